# shellcheck shell=bash
# tools/bench.d/measure.sh - one measurement of tools/bench each: a wrk row
# (measure), a pgbench row (measure_pgbench), a delivery row
# (measure_delivery), a process's memory (measure_rss), and the
# pg_stat_statements profile of an issue run (profile_issue).  Each row is
# appended to $RESULTS by report.py.
#
# Sourced by tools/bench after servers.sh and data.sh.

REPORT=$ROOT/tools/bench.d/report.py

record() { # SECTION KEY [--summary FILE] [NAME=VALUE...]
    /usr/bin/python3 "$REPORT" add "$RESULTS" "$@"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# cpu_mark FILE: what the CPUs have done so far, into FILE (report.py
# cpu-mark: the CPU time of every user-space process but this shell, whose
# children the load generators are, and the machine's busy and stolen
# time), and into LOADGEN_MARK the CPU seconds of this shell's
# waited-for children (the load generators, which run_child waits for and
# which are gone by the second mark).  Not in a subshell: `times` reports
# the shell's own children.
cpu_mark() {
    /usr/bin/python3 "$REPORT" cpu-mark "$1" "$$"
    times >"$RUN_DIR/times.txt"
    LOADGEN_MARK=$(awk 'NR == 2 { c = 0
        for (i = 1; i <= 2; i++) { m = $i; sub(/s$/, "", m); split(m, p, "m"); c += p[1] * 60 + p[2] }
        printf "%.3f\n", c }' "$RUN_DIR/times.txt")
}

# run_load OUT COMMAND...: the load generator COMMAND (its output into
# OUT), between two cpu_marks; LOAD_CPU becomes the NAME=VALUE words for
# record of the CPU the row used: server_cpu_s (the serving processes:
# web server, responder, PostgreSQL, every thread of each, and the
# backends that ended), cpu_s and steal_s (the machine's busy and stolen
# seconds) and loadgen_s (COMMAND's own).  report.py's CPU per request is
# server_cpu_s over the requests.  COMMAND's exit status.
run_load() {
    local out=$1 rc=0 loadgen0
    shift
    cpu_mark "$RUN_DIR/cpu.0"
    loadgen0=$LOADGEN_MARK
    run_child "$@" >"$out" 2>&1 || rc=$?
    cpu_mark "$RUN_DIR/cpu.1"
    LOAD_CPU=$(/usr/bin/python3 "$REPORT" cpu-fields "$RUN_DIR/cpu.0" "$RUN_DIR/cpu.1" \
        "$(awk -v a="$loadgen0" -v b="$LOADGEN_MARK" 'BEGIN { printf "%.3f", b - a }')")
    return $rc
}

# warm URL SCRIPT VAR=VALUE...: WARMUP seconds of the same requests, not
# recorded (plans cached, pages read, connections made).
warm() {
    local url=$1 script=$2
    shift 2
    [ "$WARMUP" -gt 0 ] || return 0
    run_child env BENCH_RESULT="$RUN_DIR/warmup.json" BENCH_EXPECT=0 BENCH_THREADS=2 "$@" \
        wrk -t2 -c"$CONNECTIONS" -d"${WARMUP}s" -s "$script" "$url" >/dev/null 2>&1 || true
    sleep 1 # what wrk left in flight is answered before the row starts
}

# measure SECTION KEY CONNS URL SCRIPT EXPECT VAR=VALUE...: SECS seconds of
# wrk (2 threads, CONNS connections) with SCRIPT (its environment: the
# VAR=VALUE words, see common.lua), every answer expected to be EXPECT.
measure() {
    local section=$1 key=$2 conns=$3 url=$4 script=$5 expect=$6 out threads load
    shift 6
    out=$RUN_DIR/wrk/$section.$key.c$conns
    mkdir -p "$RUN_DIR/wrk"
    threads=$((conns < 2 ? conns : 2))
    load=$(load1)
    run_load "$out.txt" env BENCH_RESULT="$out.json" BENCH_EXPECT="$expect" BENCH_THREADS=$threads "$@" \
        wrk -t$threads -c"$conns" -d"${SECS}s" --timeout 10s --latency -s "$script" "$url" ||
        die "wrk failed: $(tail -n 3 "$out.txt")"
    [ -s "$out.json" ] || die "wrk wrote no summary for $section.$key (see $out.txt)"
    # shellcheck disable=SC2086 # LOAD_CPU is NAME=VALUE words
    record "$section" "$key" --summary "$out.json" connections="$conns" load="$load" $LOAD_CPU
    LAST_RPS=$(/usr/bin/python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["rps"]))' "$out.json")
}

# measure_pgbench KEY CONNS SCRIPT SUPPLY -D NAME=VALUE...: baseline C,
# SECS seconds of pgbench (prepared statements, CONNS clients, 2 threads)
# running SCRIPT against the main stack's database as stepup_app; its
# latencies from its per-transaction log.  SUPPLY: how many transactions
# the script's fresh sessions allow (0: no limit).
measure_pgbench() {
    local key=$1 conns=$2 script=$3 supply=$4 dir threads tps load
    shift 4
    dir=$RUN_DIR/pgbench/$key.c$conns
    rm -rf "$dir"
    mkdir -p "$dir"
    threads=$((conns < 2 ? conns : 2))
    load=$(load1)
    run_load "$dir/out.txt" env PGHOST=127.0.0.1 PGPORT="$(bench_port main-pg)" PGUSER=stepup_app \
        PGDATABASE=stepup "$PG_BIN/pgbench" -n -M prepared -c "$conns" -j $threads -T "$SECS" \
        -f "$script" --log --log-prefix="$dir/pgbench_log" -D nclients="$conns" "$@" ||
        die "pgbench failed: $(tail -n 3 "$dir/out.txt")"
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$dir/out.txt")
    [ -n "$tps" ] || die "pgbench printed no tps (see $dir/out.txt)"
    /usr/bin/python3 "$REPORT" pgbench "$dir" "$tps" "$supply" "$dir/summary.json"
    rm -f "$dir"/pgbench_log*
    # shellcheck disable=SC2086 # LOAD_CPU is NAME=VALUE words
    record baselines "$key" --summary "$dir/summary.json" connections="$conns" load="$load" $LOAD_CPU
    LAST_RPS=${tps%.*}
}

# measure_rss KEY PID WHAT: VmRSS, RssAnon and VmHWM of a process.
measure_rss() {
    local key=$1 pid=$2 what=$3 f=/proc/$2/status
    [ -r "$f" ] || { say "no process $pid for $key"; return 0; }
    record rss_kb "$key" pid="$pid" what="$what" threads="$(awk '/^Threads:/ {print $2}' "$f")" \
        vmrss="$(awk '/^VmRSS:/ {print $2}' "$f")" rss_anon="$(awk '/^RssAnon:/ {print $2}' "$f")" \
        vmhwm="$(awk '/^VmHWM:/ {print $2}' "$f")"
    progress "memory of $key (pid $pid): VmRSS $(awk '/^VmRSS:/ {print $2}' "$f") kB, RssAnon $(awk '/^RssAnon:/ {print $2}' "$f") kB"
}

# --- delivery ----------------------------------------------------------------

# delivery_templates SET FROM TO: the texts of the sessions FROM..TO of SET
# (issued through the API, so sealed by stepup-fcgi) kept as the model of
# every text the delivery rows queue: a copy of an outbox row (the same
# challenge, number and sealed code, which the seal's AAD binds) is a text
# the sender opens and sends like the original.
delivery_templates() {
    PGOPTIONS="-c client_min_messages=warning" sql -c "DROP TABLE IF EXISTS bench.delivery_templates" \
        -c "CREATE TABLE bench.delivery_templates AS
            SELECT o.challenge_id, o.programme_id, o.to_number, o.body_template, o.code_sealed,
                   o.key_id
              FROM generate_series($2, $3) n
              JOIN stepup.challenges c ON c.session_id = bench.id('s', '$1', n)
              JOIN stepup.sms_outbox o ON o.challenge_id = c.id" ||
        die "cannot keep the delivery templates"
}

# The outbox rows waiting (PENDING or SENDING).
outbox_waiting() {
    sql -c "SELECT count(*) FROM stepup.sms_outbox WHERE status IN ('PENDING', 'SENDING')"
}

# Everything still waiting in the outbox ends, unsent: what the issue rows
# queued (their challenges mostly superseded since), or what a time-limited
# delivery row left.  Not a thing stepup would do: the benchmark's database
# only, so that a delivery row drains exactly its own texts.
outbox_clear() {
    sql -c "UPDATE stepup.sms_outbox
               SET status = 'EXPIRED', ended_at = now(), body_template = NULL, code_sealed = NULL,
                   lease_owner = NULL, lease_until = NULL, last_error = 'tools/bench: cleared'
             WHERE status IN ('PENDING', 'SENDING')" >/dev/null || die "cannot clear the outbox"
}

# The audit events no seal covers yet.
unsealed_events() {
    sql -c "SELECT count(*) FROM stepup.audit_log
             WHERE xact_id >= coalesce((SELECT xact_to FROM stepup.audit_seals
                                         ORDER BY seal_no DESC LIMIT 1), '0'::xid8)"
}

# sealer_catch_up URL: the sealing sender alone, until the audit events of
# the rows before are sealed (at most 10 minutes), so that a delivery row
# seals only its own texts' events, as a sender does in production.
sealer_catch_up() {
    local deadline=$((SECONDS + 600)) n
    outbox_clear
    sender_config "$CUR_STATE/bench-sender-seal.conf" "$1" 1
    n=$(unsealed_events)
    progress "delivery: the sealer first seals the $n audit events of the rows before"
    sender_start 1 "$CUR_STATE/bench-sender-seal.conf"
    while [ "$n" -gt 100 ] && [ $SECONDS -lt $deadline ]; do
        sleep 2
        n=$(unsealed_events)
    done
    senders_stop
}

# measure_delivery KEY URL SENDERS LIMIT GATEWAY_MS: TEXTS texts queued
# (copies of the templates), then SENDERS senders started on the http
# provider posting to URL; timed until every text has ended or LIMIT
# seconds passed.  texts/s = texts sent / seconds.
measure_delivery() {
    local key=$1 url=$2 senders=$3 limit=$4 gateway_ms=$5 i sent_before sent waiting t0 t1 secs load
    outbox_clear
    sql -c "INSERT INTO stepup.sms_outbox (challenge_id, programme_id, to_number, body_template,
                                           code_sealed, key_id)
            SELECT t.challenge_id, t.programme_id, t.to_number, t.body_template, t.code_sealed, t.key_id
              FROM generate_series(1, $TEXTS) n
              JOIN (SELECT *, row_number() OVER () - 1 AS i FROM bench.delivery_templates) t
                ON t.i = n % (SELECT count(*) FROM bench.delivery_templates)" >/dev/null ||
        die "cannot queue the texts"
    sql_super -c "CHECKPOINT" >/dev/null 2>&1 || true
    sent_before=$(sql -c "SELECT count(*) FROM stepup.sms_outbox WHERE status = 'SENT'")
    sender_config "$CUR_STATE/bench-sender-seal.conf" "$url" 1
    sender_config "$CUR_STATE/bench-sender.conf" "$url" 0
    load=$(load1)
    t0=$(date +%s.%N)
    sender_start 1 "$CUR_STATE/bench-sender-seal.conf"
    for ((i = 2; i <= senders; i++)); do sender_start "$i" "$CUR_STATE/bench-sender.conf"; done
    while :; do
        sleep 0.5
        waiting=$(outbox_waiting)
        t1=$(date +%s.%N)
        [ "$waiting" -gt 0 ] || break
        if awk -v a="$t0" -v b="$t1" -v l="$limit" 'BEGIN { exit !(b - a >= l) }'; then break; fi
    done
    local pid
    for pid in $(sender_pids); do
        measure_rss_max "$pid"
    done
    senders_stop
    sent=$(( $(sql -c "SELECT count(*) FROM stepup.sms_outbox WHERE status = 'SENT'") - sent_before ))
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    record sender "$key" value="$(awk -v s="$sent" -v t="$secs" 'BEGIN { printf "%.1f", s / t }')" \
        senders="$senders" texts="$TEXTS" sent="$sent" seconds="$secs" gateway_ms="$gateway_ms" \
        timeboxed="$([ "$waiting" -gt 0 ] && echo true || echo false)" load="$load"
    progress "sender.$key: $sent of $TEXTS texts in ${secs}s by $senders sender(s): $(awk -v s="$sent" -v t="$secs" 'BEGIN { printf "%.1f", s / t }') texts/s$([ "$waiting" -gt 0 ] && echo " (time limit reached)")"
    outbox_clear
}

# The largest sender seen (for rss_kb.sender, after the delivery rows).
SENDER_RSS_PID=
SENDER_RSS_LINE=
measure_rss_max() {
    local f=/proc/$1/status rss
    rss=$(awk '/^VmRSS:/ {print $2}' "$f" 2>/dev/null) || return 0
    if [ -z "$SENDER_RSS_LINE" ] || [ "$rss" -gt "${SENDER_RSS_LINE%% *}" ]; then
        SENDER_RSS_LINE="$rss $(awk '/^RssAnon:/ {print $2}' "$f") $(awk '/^VmHWM:/ {print $2}' "$f")"
        SENDER_RSS_PID=$1
    fi
}

# --- the profile ---------------------------------------------------------------

# profile_issue: one more issue row with pg_stat_statements counting every
# statement, nested ones included (track = all: it costs, so this row is
# not a measurement), and the statements that took the most time.
profile_issue() {
    local url=$1 tokens=$2
    sql_super -c "ALTER SYSTEM SET pg_stat_statements.track = 'all'" -c "SELECT pg_reload_conf()" \
              -c "SELECT pg_stat_statements_reset()" >/dev/null
    sleep 1
    run_child env BENCH_RESULT="$RUN_DIR/profile.json" BENCH_EXPECT=204 BENCH_THREADS=2 \
        BENCH_TOKENS="$tokens" BENCH_API_KEY="$MAIN_KEY" \
        wrk -t2 -c"$CONNECTIONS" -d"${SECS}s" -s "$D/issue.lua" "$url" >/dev/null 2>&1 || true
    sql_super -c "ALTER SYSTEM SET pg_stat_statements.track = 'none'" -c "SELECT pg_reload_conf()" >/dev/null
    {
        echo "pg_stat_statements (track = all) over one more ${SECS} s issue run at $CONNECTIONS"
        echo "connections (not a measurement: counting every statement costs).  Nested"
        echo "statements count inside their callers too, so the shares add up to more than 100%."
        echo
        echo "| calls | total ms | mean µs | share % | buffers/call | statement |"
        echo "|---:|---:|---:|---:|---:|---|"
        sql_super -c "
            SELECT format('| %s | %s | %s | %s | %s | \`%s\` |', calls,
                          round(total_exec_time::numeric, 0),
                          round((1000 * total_exec_time / greatest(calls, 1))::numeric, 0),
                          round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1),
                          round(shared_blks_hit::numeric / greatest(calls, 1), 1),
                          replace(left(regexp_replace(query, '\s+', ' ', 'g'), 120), '|', '/'))
              FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'stepup')
               AND query NOT LIKE '%pg_stat_statements%' AND query NOT LIKE 'ALTER SYSTEM%'
             ORDER BY total_exec_time DESC
             LIMIT $PROFILE_ROWS"
    } >"$RUN_DIR/profile.md" || die "cannot read pg_stat_statements"
}
