# shellcheck shell=bash
# tools/lib/stack/patroni.sh - part "patroni" (STEPUP_PG_HA=patroni only):
# PostgreSQL 15 as a primary and a synchronous standby under Patroni,
# instead of the postgres part's one cluster.  All on 127.0.0.1, all as
# $STEPUP_DB_USER (PostgreSQL refuses root):
#
#   etcd     Patroni's store (one member): client port $ETCD_PORT, peer port
#            $ETCD_PEER_PORT, data in $STATE/etcd, log $LOGDIR/etcd.log
#   node1    Patroni (REST API on $PATRONI_PORT1) and its PostgreSQL on
#            $PG_PORT, data in $STATE/patroni/node1
#   node2    the same on $PATRONI_PORT2 and $PG_PORT2, in $STATE/patroni/node2
#
# Each node's configuration is $STATE/patroni/nodeN.yml, written by this
# part at every up; its log $LOGDIR/patroni-nodeN.log holds Patroni's lines
# and its PostgreSQL's.  The first up bootstraps the cluster (one node runs
# initdb, the other clones it with pg_basebackup); `up` returns once one
# node is the primary, accepting writes, and the other its synchronous
# standby.  The database part then creates stepup's database and migrates
# it on the primary, through both addresses (base.sh's multi-host PG*), as
# it does on a lone cluster; the standby replicates it.
#
# `down` stops both Patronis (each stops its PostgreSQL), then any
# PostgreSQL left running without its Patroni (one killed, as the failover
# test does) and any process of it that outlived it, then etcd: by the pid
# files, whether or not STEPUP_PG_HA is set.

ETCD_PORT=${STEPUP_ETCD_PORT:-$((PG_PORT + 2))}
ETCD_PEER_PORT=${STEPUP_ETCD_PEER_PORT:-$((PG_PORT + 3))}
PATRONI_PORT1=${STEPUP_PATRONI_PORT:-$((PG_PORT + 4))}
PATRONI_PORT2=${STEPUP_PATRONI_PORT2:-$((PG_PORT + 5))}
ETCD_DIR=$STATE/etcd
ETCD_PID=$PG_RUN/etcd.pid
PATRONI_DIR=$STATE/patroni
# Patroni's timing (its dynamic configuration, set when the cluster is
# bootstrapped).  The primary renews its leader key every LOOP_WAIT
# seconds; when it stops doing so the key expires after TTL and the
# synchronous standby promotes itself, so TTL bounds how long a failover
# takes (README, "Running in production").  Patroni needs LOOP_WAIT +
# 2 * RETRY_TIMEOUT <= TTL; its defaults are 10, 10 and 30: these are
# short, for a fast test on loopback.
PATRONI_TTL=6
PATRONI_LOOP_WAIT=1
PATRONI_RETRY_TIMEOUT=2

etcd_pid() {
    live_pid_of "$ETCD_PID" etcd
}

patroni_conf() { echo "$PATRONI_DIR/node$1.yml"; }
patroni_data() { echo "$PATRONI_DIR/node$1"; }
patroni_log() { echo "$LOGDIR/patroni-node$1.log"; }
patroni_pid_file() { echo "$PG_RUN/patroni-node$1.pid"; }

patroni_pid() {
    live_pid_of "$(patroni_pid_file "$1")" patroni
}

# True when this state directory has (or had) a Patroni cluster.
patroni_configured() {
    [ -f "$(patroni_conf 1)" ]
}

# A port of node N as its configuration file records it: pg or rest.
patroni_port() {
    sed -n "s/^# stack: .*$2=\\([0-9]*\\).*/\\1/p" "$(patroni_conf "$1")" 2>/dev/null
}

# start_detached USER PIDFILE LOG CMD...: CMD in the background as USER, in a
# session of its own (no terminal's signals reach it), its output appended
# to LOG, its pid written to PIDFILE.
start_detached() {
    local user=$1 pidfile=$2 log=$3
    shift 3
    # shellcheck disable=SC2016 # expanded by that shell
    as_user "$user" sh -c 'pidfile=$1 log=$2; shift 2
        setsid "$@" </dev/null >>"$log" 2>&1 &
        echo $! >"$pidfile"' start_detached "$pidfile" "$log" "$@"
}

# Postgres settings of STEPUP_PG_OPTIONS ("-c NAME=VALUE ..."), as lines of
# Patroni's postgresql.parameters.  A synchronous_commit that does not wait
# for the standby is refused: it would undo what synchronous_mode is for.
patroni_parameters() {
    local words i=0 w kv name value
    read -ra words <<<"${STEPUP_PG_OPTIONS:-}"
    while [ $i -lt ${#words[@]} ]; do
        w=${words[i]}
        case $w in
            -c) kv=${words[i + 1]:-}; i=$((i + 2)) ;;
            -c*) kv=${w#-c}; i=$((i + 1)) ;;
            --*=*) kv=${w#--}; i=$((i + 1)) ;;
            *) die "under STEPUP_PG_HA=patroni, STEPUP_PG_OPTIONS takes only -c NAME=VALUE, not '$w'" ;;
        esac
        name=${kv%%=*}
        value=${kv#*=}
        [ -n "$name" ] && [ "$name" != "$kv" ] || die "STEPUP_PG_OPTIONS: '$kv' is not NAME=VALUE"
        if [ "$name" = synchronous_commit ]; then
            case $value in
                on|remote_apply) ;;
                *) die "STEPUP_PG_OPTIONS: synchronous_commit=$value would acknowledge commits the standby may not have: not under Patroni's synchronous_mode" ;;
            esac
        fi
        printf "    %s: '%s'\n" "$name" "${value//\'/\'\'}"
    done
}

# nodeN.yml: Patroni's configuration of node N.
write_patroni_config() {
    local n=$1 pg_port rest_port f params
    params=$(patroni_parameters) # here, so that its die ends the script
    f=$(patroni_conf "$n")
    if [ "$n" = 1 ]; then pg_port=$PG_PORT rest_port=$PATRONI_PORT1
    else pg_port=$PG_PORT2 rest_port=$PATRONI_PORT2
    fi
    cat >"$f.tmp" <<YAML
# Written by tools/stack up (tools/lib/stack/patroni.sh): edit that instead.
# stack: pg=$pg_port rest=$rest_port etcd=$ETCD_PORT
scope: stepup
name: node$n

restapi:
  listen: 127.0.0.1:$rest_port
  connect_address: 127.0.0.1:$rest_port

etcd3:
  hosts: 127.0.0.1:$ETCD_PORT

# No watchdog device in a development stack.
watchdog:
  mode: "off"

bootstrap:
  # The cluster-wide (dynamic) settings, stored in etcd when the cluster
  # is bootstrapped; patronictl edit-config changes them later.
  dcs:
    ttl: $PATRONI_TTL
    loop_wait: $PATRONI_LOOP_WAIT
    retry_timeout: $PATRONI_RETRY_TIMEOUT
    # A commit is acknowledged only once the synchronous standby has it
    # (synchronous_commit stays on), and only that standby may be promoted:
    # a failover loses no transaction stepup answered.  Not strict: with
    # the standby gone, the primary goes on alone rather than stop writing.
    synchronous_mode: true
    synchronous_mode_strict: false
    postgresql:
      # A former primary rejoins as a standby by rewinding what it wrote
      # past the failover (which nobody was told had committed).
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
  initdb:
    - encoding: UTF8
    - locale: C
    - auth: trust

postgresql:
  listen: 127.0.0.1:$pg_port
  connect_address: 127.0.0.1:$pg_port
  data_dir: $(patroni_data "$n")
  bin_dir: $PG_BIN
  pgpass: $PATRONI_DIR/node$n.pgpass
  # A development stack: a node that cannot be rewound is cloned afresh.
  remove_data_directory_on_rewind_failure: true
  remove_data_directory_on_diverged_timelines: true
  authentication:
    # The cluster's bootstrap superuser (initdb --username), which Patroni
    # and pg_rewind use, and the role the standby replicates as.
    superuser:
      username: $PG_SUPERUSER
    replication:
      username: replicator
    rewind:
      username: $PG_SUPERUSER
  # trust on loopback, as the postgres part's cluster: a development stack.
  # In production: scram-sha-256 (hostssl) for every line, passwords above.
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
  parameters:
    unix_socket_directories: '$PG_RUN'
$params
YAML
    mv "$f.tmp" "$f"
    give_to "$STEPUP_DB_USER" "$f"
}

# The members of the cluster as Patroni's REST API lists them, one
# "name role state" line each (role: leader, sync_standby, replica).
patroni_members() {
    local port
    for port in "$PATRONI_PORT1" "$PATRONI_PORT2"; do
        curl -s --max-time 2 "http://127.0.0.1:$port/cluster" 2>/dev/null |
            "$PY" -c 'import json, sys
for m in json.load(sys.stdin)["members"]:
    print(m["name"], m["role"], m["state"])' 2>/dev/null && return 0
    done
    return 1
}

# Wait until a node is the primary, accepting writes, and the other its
# synchronous standby (at most $1 seconds).
wait_patroni_cluster() {
    local limit=$1 deadline members
    deadline=$((SECONDS + limit))
    while :; do
        members=$(patroni_members || true)
        if grep -q ' leader running$' <<<"$members" && grep -q ' sync_standby streaming$\| sync_standby running$' <<<"$members" &&
           as_superuser "$PG_BIN/psql" -X -q -At -c "SELECT 1" >/dev/null 2>&1; then
            return 0
        fi
        if [ $SECONDS -ge $deadline ]; then
            show_tail "$(patroni_log 1)" 20
            show_tail "$(patroni_log 2)" 20
            die "Patroni: no primary with a synchronous standby within ${limit}s (members: ${members:-none})"
        fi
        sleep 0.3
    done
}

etcd_up() {
    local pid deadline
    if pid=$(etcd_pid); then
        say "etcd already running (pid $pid, port $ETCD_PORT)"
        return 0
    fi
    [ -x /usr/bin/etcd ] || die "etcd is not installed (apt-get install etcd-server)"
    own_dir "$STEPUP_DB_USER" 0700 "$ETCD_DIR"
    own_log "$STEPUP_DB_USER" "$LOGDIR/etcd.log"
    say "starting etcd on 127.0.0.1:$ETCD_PORT"
    start_detached "$STEPUP_DB_USER" "$ETCD_PID" "$LOGDIR/etcd.log" /usr/bin/etcd \
        --name stepup --data-dir "$ETCD_DIR" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "stepup=http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster-state new --logger zap --log-level warn
    deadline=$((SECONDS + 30))
    until curl -s --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'; do
        if ! etcd_pid >/dev/null || [ $SECONDS -ge $deadline ]; then
            show_tail "$LOGDIR/etcd.log"
            die "etcd did not start"
        fi
        sleep 0.2
    done
}

patroni_node_up() {
    local n=$1 pid
    if pid=$(patroni_pid "$n"); then
        say "Patroni node$n already running (pid $pid)"
        return 0
    fi
    write_patroni_config "$n"
    own_log "$STEPUP_DB_USER" "$(patroni_log "$n")"
    say "starting Patroni node$n (PostgreSQL on 127.0.0.1:$(patroni_port "$n" pg))"
    start_detached "$STEPUP_DB_USER" "$(patroni_pid_file "$n")" "$(patroni_log "$n")" \
        /usr/bin/patroni "$(patroni_conf "$n")"
    sleep 0.2
    patroni_pid "$n" >/dev/null || { show_tail "$(patroni_log "$n")"; die "Patroni node$n exited at once"; }
}

part_patroni_up() {
    [ "$PG_HA" = patroni ] || return 0
    [ -x /usr/bin/patroni ] || die "patroni is not installed (apt-get install patroni)"
    if pg_running; then
        die "the postgres part's PostgreSQL runs on $STATE: run tools/stack down first"
    fi
    own_dir "$STEPUP_DB_USER" 0700 "$PATRONI_DIR"
    etcd_up
    # Both at once: one wins the race to initialise, the other clones it.
    patroni_node_up 1
    patroni_node_up 2
    wait_patroni_cluster 180
}

# The pids of processes whose working directory is dir (PostgreSQL's run in
# their data directory).
pids_in_dir() {
    local d
    for d in /proc/[0-9]*; do
        [ "$(readlink "$d/cwd" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
    done
    return 0
}

# Stop node N's PostgreSQL if it runs without its Patroni, and whatever of
# its processes outlived their postmaster.  True when something was stopped.
patroni_node_leftovers_stop() {
    local n=$1 data pm pids stopped=1
    data=$(patroni_data "$n")
    [ -d "$data" ] || return 1
    pm=$(head -n 1 "$data/postmaster.pid" 2>/dev/null | tr -dc '0-9')
    if [ -n "$pm" ] && [ "$(cat "/proc/$pm/comm" 2>/dev/null)" = postgres ]; then
        say "stopping node$n's PostgreSQL (pid $pm), which runs without its Patroni"
        as_user "$STEPUP_DB_USER" "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            stop_pids "node$n's PostgreSQL" 10 "$pm"
        stopped=0
    fi
    # Backends of a killed postmaster end at their next wait; give them that.
    mapfile -t pids < <(pids_in_dir "$data")
    if [ ${#pids[@]} -gt 0 ]; then
        wait_gone 5 "${pids[@]}" || stop_pids "what is left of node$n's PostgreSQL" 5 "${pids[@]}"
        stopped=0
    fi
    return $stopped
}

part_patroni_down() {
    local n pid members leader="" stopped=1
    patroni_configured || [ -f "$ETCD_PID" ] || return 1
    # The standby first: a synchronous standby that stops waits until the
    # primary has released it (so that writes never wait for a standby
    # that is gone), which a primary that is stopping too never does.
    members=$(patroni_members || true)
    for n in 1 2; do
        grep -q "^node$n leader " <<<"$members" && leader=$n
    done
    for n in 1 2; do
        [ "$n" != "$leader" ] || continue
        pid=$(patroni_pid "$n") || continue
        say "stopping Patroni node$n (pid $pid), which stops its PostgreSQL"
        stop_pids "Patroni node$n" 90 "$pid"
        stopped=0
    done
    if [ -n "$leader" ] && pid=$(patroni_pid "$leader"); then
        say "stopping Patroni node$leader (pid $pid, the primary), which stops its PostgreSQL"
        stop_pids "Patroni node$leader" 90 "$pid"
        stopped=0
    fi
    for n in 1 2; do
        patroni_node_leftovers_stop "$n" && stopped=0
        rm -f "$(patroni_pid_file "$n")"
    done
    if pid=$(etcd_pid); then
        say "stopping etcd (pid $pid)"
        stop_pids etcd 30 "$pid"
        stopped=0
    fi
    rm -f "$ETCD_PID"
    return $stopped
}

part_patroni_status() {
    local n pid members line all=0
    if ! patroni_configured; then
        [ "$PG_HA" = patroni ] || return 0
        printf '%-13s down\n' etcd patroni-node1 patroni-node2
        return 3
    fi
    if pid=$(etcd_pid); then
        printf '%-13s up    pid %-8s 127.0.0.1:%s\n' etcd "$pid" "$(sed -n 's/^# stack: .*etcd=\([0-9]*\).*/\1/p' "$(patroni_conf 1)")"
    else
        printf '%-13s down\n' etcd
        all=3
    fi
    members=$(patroni_members || true)
    for n in 1 2; do
        line=$(grep "^node$n " <<<"$members" | cut -d' ' -f2- || true)
        if pid=$(patroni_pid "$n"); then
            printf '%-13s up    pid %-8s 127.0.0.1:%s %s (REST 127.0.0.1:%s)\n' "patroni-node$n" "$pid" \
                "$(patroni_port "$n" pg)" "${line:-unknown}" "$(patroni_port "$n" rest)"
        else
            printf '%-13s down  127.0.0.1:%s\n' "patroni-node$n" "$(patroni_port "$n" pg)"
            all=3
        fi
    done
    return $all
}
