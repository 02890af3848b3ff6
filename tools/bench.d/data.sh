# shellcheck shell=bash
# tools/bench.d/data.sh - the data tools/bench measures with: its
# programmes and API keys (stepupctl), users and sessions (SQL:
# tools/bench.d/sql/data.sql), pending challenges (through the API for
# stepup, in SQL for the reference), and the growth history
# (tools/bench.d/sql/growth.sql).
#
# Sourced by tools/bench after servers.sh; works on the current stack
# (use_stack).

D=$ROOT/tools/bench.d

# The settings of the benchmark's programmes: nothing refuses a request of
# the benchmark.  No retry window, no issue limit, wrong codes never lock a
# challenge; the limits that are on by default stay on, counting, with a
# count no run reaches (so each request still pays for them); the others
# stay off, as by default; sessions and challenges outlive the run.
PROGRAMME_SETTINGS=(--retry-seconds 0 --issue-limit 1000000 --verify-attempts off
                    --expiry-seconds 86400 --session-ttl 2592000 --session-max-seconds 2592000
                    --gates legacy
                    --limit login-failures-per-user=1000000/15m
                    --limit challenges-per-user=1000000/1h
                    --limit challenges-per-number=1000000/1h
                    --limit verify-failures-per-user=1000000/15m)

# The programme named NAME (made, or set to PROGRAMME_SETTINGS) -> its id.
programme() {
    local name=$1 id
    shift
    id=$(sql -c "SELECT id FROM stepup.programmes WHERE name = '$name'")
    if [ -z "$id" ]; then
        id=$(ctl programme create --name "$name" "${PROGRAMME_SETTINGS[@]}" "$@" | json_get id) ||
            die "stepupctl programme create $name failed"
    else
        ctl programme set "$id" "${PROGRAMME_SETTINGS[@]}" "$@" >/dev/null ||
            die "stepupctl programme set $name failed"
    fi
    echo "$id"
}

# bench_db: the benchmark's own part of the current stack's database (made
# once per database, kept in $CUR_STATE/bench.env): pg_stat_statements
# (counting nothing until a profile asks), the schema bench (data.sql,
# reference.sql, growth.sql), the programmes bench-main (not a sandbox)
# and bench-sandbox, an API key of each, and USERS users of each with one
# password, whose scrypt hash stepupctl made once (STEPUP_SCRYPT_LOG2N).
bench_db() {
    local env=$CUR_STATE/bench.env
    PGOPTIONS="-c client_min_messages=warning" sql_super -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
              -c "ALTER SYSTEM SET pg_stat_statements.track = 'none'" \
              -c "SELECT pg_reload_conf()" >/dev/null || die "cannot set up pg_stat_statements"
    PGOPTIONS="-c client_min_messages=warning" sql -f "$D/sql/data.sql" -f "$D/sql/reference.sql" \
        -f "$D/sql/growth.sql" >/dev/null || die "cannot load tools/bench.d/sql/*.sql"
    MAIN_KEY= SANDBOX_KEY= PASSWORD= PASSWORD_HASH=
    # shellcheck disable=SC1090
    if [ -f "$env" ]; then . "$env"; fi
    MAIN_PROG=$(programme bench-main)
    SANDBOX_PROG=$(programme bench-sandbox --sandbox)
    [ -n "$MAIN_KEY" ] || MAIN_KEY=$(ctl apikey create --programme "$MAIN_PROG" | json_get apiKey)
    [ -n "$SANDBOX_KEY" ] || SANDBOX_KEY=$(ctl apikey create --programme "$SANDBOX_PROG" | json_get apiKey)
    if [ -z "$PASSWORD_HASH" ]; then
        PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
        STEPUP_SCRYPT_LOG2N=$SCRYPT_LOG2N ctl user create --programme "$MAIN_PROG" \
            --email scrypt@bench.example.com --password "$PASSWORD" >/dev/null ||
            die "stepupctl user create failed"
        PASSWORD_HASH=$(sql -c "SELECT password_hash FROM stepup.users
                                 WHERE email = 'scrypt@bench.example.com'")
    fi
    (
        umask 077
        printf 'MAIN_PROG=%q\nSANDBOX_PROG=%q\nMAIN_KEY=%q\nSANDBOX_KEY=%q\nPASSWORD=%q\nPASSWORD_HASH=%q\n' \
            "$MAIN_PROG" "$SANDBOX_PROG" "$MAIN_KEY" "$SANDBOX_KEY" "$PASSWORD" "$PASSWORD_HASH" >"$env"
    )
    SCRYPT_PARAMS=$(sed -n 's/^\$scrypt\$\([^$]*\)\$.*/\1/p' <<<"$PASSWORD_HASH")
    local have
    have=$(sql -c "SELECT count(*) FROM stepup.users WHERE programme_id = '$MAIN_PROG'")
    if [ "$have" -lt $((USERS + 1)) ]; then
        sql -c "CALL bench.make_users('$MAIN_PROG', 'bm', $USERS, 50000000, '$PASSWORD_HASH')" ||
            die "cannot make users"
        sql -c "CALL bench.make_users('$SANDBOX_PROG', 'bs', $USERS, 60000000, '$PASSWORD_HASH')" ||
            die "cannot make users"
    fi
    # The e-mail addresses login uses, in a scattered order.
    awk -v n="$USERS" 'BEGIN { for (i = 0; i < n; i++) printf "bm-%d@bench.example.com\n", 1 + (i * 7919) % n }' \
        >"$RUN_DIR/emails-$CUR.txt"
}

# sessions SET PROGRAMME TAG COUNT [STEPPED]: COUNT new sessions of token
# set SET (numbered on from the set's last in this database), of the
# users of TAG in turn, stepped up now when STEPPED is 1.  Prints "FROM TO
# TOKENFILE"; the tokens are in TOKENFILE, one a line.
sessions() {
    local set=$1 prog=$2 tag=$3 count=$4 stepped=${5:-0} from to file
    from=$(sql -c "SELECT bench.allocate('$set', $count)") || die "bench.allocate failed"
    to=$((from + count - 1))
    sql -c "CALL bench.make_sessions('$prog', '$tag', $USERS, '$set', $from, $to,
                                     $([ "$stepped" = 1 ] && echo true || echo false))" ||
        die "cannot make sessions"
    file=$RUN_DIR/tokens/$CUR-$set-$from.txt
    mkdir -p "$RUN_DIR/tokens"
    awk -v s="$set" -v a="$from" -v b="$to" 'BEGIN { for (i = a; i <= b; i++) printf "%s-%040d\n", s, i }' >"$file"
    echo "$from $to $file"
}

# The sessions FROM..TO of SET that have had no challenge yet (numbers).
# A subquery per session, so that each is found by its primary key: as a
# join, PostgreSQL may believe the statistics of a big sessions table (no
# session without a challenge) and scan it, trying every number against
# every session that has none.
sessions_unissued() {
    sql -c "SELECT n FROM generate_series($2, $3) n
             WHERE (SELECT s.challenges_issued FROM stepup.sessions s
                     WHERE s.id = bench.id('s', '$1', n)) = 0"
}

# issue_each SET FROM TO KEY: one challenge for every session FROM..TO of
# SET, through the API (only stepup-fcgi can make codes it will verify, and
# sealed texts the senders can open), with wrk using each token once; a
# session that got none (a request lost when wrk stopped) is tried again.
issue_each() {
    local set=$1 from=$2 to=$3 key=$4 pass file missing
    file=$RUN_DIR/tokens/$CUR-$set-$from.txt
    for pass in 1 2 3; do
        wrk_each "$D/issue.lua" "$file" $((to - from + 1)) BENCH_API_KEY="$key"
        missing=$(sessions_unissued "$set" "$from" "$to")
        [ -n "$missing" ] || return 0
        file=$RUN_DIR/tokens/$CUR-$set-$from-retry$pass.txt
        awk -v s="$set" '{ printf "%s-%040d\n", s, $1 }' <<<"$missing" >"$file"
    done
    die "$(wc -l <<<"$missing") sessions of set $set got no challenge after 3 tries (see $CUR_STATE/log/stepup-fcgi.log)"
}

# wrk_each SCRIPT TOKENFILE COUNT VAR=VALUE...: send one request per token
# and stop: wrk has no request count, so each of its threads leaves a mark
# once it has used its tokens, and wrk is interrupted when all have.
wrk_each() {
    local script=$1 tokens=$2 count=$3 done_dir
    shift 3
    done_dir=$(mktemp -d "$RUN_DIR/each.XXXXXX")
    env BENCH_RESULT="$done_dir/result.json" BENCH_EXPECT=204 BENCH_THREADS=2 BENCH_ONCE=1 \
        BENCH_TOKENS="$tokens" BENCH_DONE_DIR="$done_dir" "$@" \
        wrk -t2 -c"$CONNECTIONS" -d$((count / 100 + 120))s -s "$script" "$CUR_URL" \
        >"$done_dir/wrk.out" 2>&1 &
    CHILD=$!
    until [ -e "$done_dir/0" ] && [ -e "$done_dir/1" ]; do
        kill -0 "$CHILD" 2>/dev/null || break
        sleep 0.2
    done
    sleep 0.5 # the last answers
    kill -INT "$CHILD" 2>/dev/null || true
    wait "$CHILD" || true
    CHILD=
}

# ref_challenges SET FROM TO: a pending challenge (code 123456 under the
# reference's hash) for each session FROM..TO of SET: baseline B's verify.
ref_challenges() {
    sql -c "CALL bench.make_challenges('$1', $2, $3, '123456')" || die "cannot make challenges"
}

# --- growth ------------------------------------------------------------------

# growth_generate: the history of the growth cluster (bench.growth_plan),
# made or finished (a run interrupted in the middle is resumed), with
# GROWTH_WORKERS sessions in parallel, its progress on standard error;
# then VACUUM ANALYZE, so that the runs measure a settled database and
# autovacuum does not wake up in the middle of them.
growth_generate() {
    local plan prog
    prog=$(programme bench-history)
    plan=$(sql -c "SELECT challenges || ' ' || users || ' ' || months || ' '
                          || CASE WHEN finished_at IS NULL THEN 'f' ELSE 't' END
                     FROM bench.growth_plan")
    if [ -n "$plan" ] && [ "$plan" != "$GROWTH_CHALLENGES $GROWTH_USERS $GROWTH_MONTHS t" ] &&
       [ "$plan" != "$GROWTH_CHALLENGES $GROWTH_USERS $GROWTH_MONTHS f" ]; then
        die "the growth cluster in $BENCH_DIR/growth holds another history (challenges users months: ${plan% *}): --growth-fresh makes a new one"
    fi
    if [ "${plan##* }" = t ]; then
        GROWTH_REUSED=1
        GROWTH_SECONDS=$(sql -c "SELECT round(seconds) FROM bench.growth_plan")
        progress "growth: reusing the history of $BENCH_DIR/growth (made in ${GROWTH_SECONDS}s)"
        return 0
    fi
    GROWTH_REUSED=0
    local started=$SECONDS
    if [ -z "$plan" ]; then
        sql -c "INSERT INTO bench.growth_plan (programme, challenges, users, months, batch,
                                               history_from, history_to)
                VALUES ('$prog', $GROWTH_CHALLENGES, $GROWTH_USERS, $GROWTH_MONTHS, 1000,
                        now() - make_interval(months => $GROWTH_MONTHS), now() - interval '1 hour')" ||
            die "cannot plan the growth history"
        sql -c "CALL bench.growth_partitions(now() - make_interval(months => $GROWTH_MONTHS))" ||
            die "cannot make the audit log's partitions"
        ctl partitions >/dev/null || die "stepupctl partitions failed"
    else
        progress "growth: resuming an interrupted generation"
    fi
    progress "growth: $GROWTH_USERS users (identities, factors)"
    sql -c "CALL bench.make_users('$prog', 'h', $GROWTH_USERS, 0, '$PASSWORD_HASH',
                                  now() - make_interval(months => $GROWTH_MONTHS + 1))" ||
        die "cannot make the history's users"
    progress "growth: $GROWTH_CHALLENGES challenges over $GROWTH_MONTHS months, $GROWTH_WORKERS workers"
    local w pids=() batches done_now
    batches=$(( (GROWTH_CHALLENGES + 999) / 1000 ))
    for ((w = 0; w < GROWTH_WORKERS; w++)); do
        PGOPTIONS="-c synchronous_commit=off -c client_min_messages=warning" \
            sql -c "CALL bench.growth_generate($w, $GROWTH_WORKERS)" >>"$RUN_DIR/growth.log" 2>&1 &
        pids+=($!)
        GROWTH_PIDS+=($!)
    done
    local t0=$SECONDS shown=$SECONDS start_done alive p rate left
    start_done=$(sql -c "SELECT count(*) FROM bench.growth_done")
    while :; do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 1 ] || break
        sleep 5
        if [ $((SECONDS - shown)) -ge 30 ]; then
            shown=$SECONDS
            done_now=$(sql -c "SELECT count(*) FROM bench.growth_done")
            rate=$(( (done_now - start_done) * 1000 / (SECONDS - t0) ))
            left=""
            [ "$rate" -gt 0 ] && left=", about $(( (batches - done_now) * 1000 / rate ))s left"
            progress "growth: $((done_now * 1000)) of $GROWTH_CHALLENGES challenges ($((done_now * 100 / batches))%, $rate/s$left)"
        fi
    done
    for p in "${pids[@]}"; do
        wait "$p" || { tail -n 5 "$RUN_DIR/growth.log" >&2; die "growth generation failed (log: $RUN_DIR/growth.log)"; }
    done
    GROWTH_PIDS=()
    [ "$(sql -c "SELECT count(*) FROM bench.growth_done")" = "$batches" ] || die "growth generation stopped early"
    progress "growth: VACUUM ANALYZE"
    sql -c "VACUUM (ANALYZE) stepup.sessions" -c "VACUUM (ANALYZE) stepup.challenges" \
        -c "VACUUM (ANALYZE) stepup.sms_outbox" -c "VACUUM (ANALYZE) stepup.sms_attempts" \
        -c "VACUUM (ANALYZE) stepup.verification_attempts" -c "VACUUM (ANALYZE) stepup.audit_log" \
        -c "VACUUM (ANALYZE) stepup.users" -c "VACUUM (ANALYZE) stepup.identities" \
        -c "VACUUM (ANALYZE) stepup.factors" -c "VACUUM (ANALYZE) stepup.metric_counts" ||
        die "VACUUM ANALYZE failed"
    GROWTH_SECONDS=$((SECONDS - started))
    sql -c "UPDATE bench.growth_plan SET finished_at = now(), seconds = $GROWTH_SECONDS" >/dev/null
    progress "growth: generated in ${GROWTH_SECONDS}s ($(sql -c "SELECT pg_size_pretty(pg_database_size('stepup'))"))"
}
