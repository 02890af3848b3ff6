"""stepup through PgBouncer in transaction pooling mode (issue 10 item 5),
on a stack of its own: `tools/stack up` with STEPUP_PGBOUNCER=1 puts
PgBouncer (pool_mode = transaction, 2 server connections) between
stepup-fcgi (4 workers, each with its connection to PgBouncer, and
db_prepared_statements = 0) and PostgreSQL; the sender connects to
PostgreSQL directly, as it must to LISTEN.

Rather than write the cases again, cases of the suite run on this stack as
they are: the whole flow of tools/flow-demo (log in, enrol, verify, step up,
the gate), issue and verify with wrong and right codes, idempotent replay,
50 concurrent issues on one session (exactly one challenge), concurrent
codes against the attempt limit, rate limits whose counters are sharded by
the server connection's pid, the figures of GET /metrics, a database
restart and an outage.  Then the sender: woken by a NOTIFY sent through a
pooled connection, it delivers; and db_prepared_statements = 1 through the
same PgBouncer fails, which is what the setting is for.

`STEPUP_PGBOUNCER=1 make check` runs the whole suite through PgBouncer
(conftest.py passes it on); this file is the part of it that runs every
time.  PgBouncer sits behind stepup-fcgi, whatever web server is in front:
it runs behind lighttpd only."""

import collections
import os
import subprocess
import threading
import time

import pytest

import test_05_idempotency as t05
import test_06_concurrency as t06
import test_11_verify_rules as t11
import test_12_verify_concurrency as t12
import test_15_gate as t15
import test_16_flow_demo as t16
import test_21_sender_delivery as t21
import test_40_limits as t40
import test_62_operations as t62
import test_90_outage as t90
from conftest import BUILD, GB_MOBILE, PG_BIN, _run_stack, config_value, own_stack
from sender_fixtures import Flow, Senders, _gateway_server, gateway  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    os.environ.get("STEPUP_HTTPD", "lighttpd") != "lighttpd",
    reason="PgBouncer sits between stepup-fcgi and PostgreSQL, whatever web server is in "
           "front: the lighttpd run covers it")

POOL_SIZE = 2  # tools/lib/stack/pgbouncer.sh's default_pool_size
WORKERS = 4  # tools/lib/stack/fcgi.sh's workers behind lighttpd


@pytest.fixture(scope="module")
def pgb():
    """The stack with PgBouncer: no sender of its own until a test starts the
    part (the suite's cases read their sealed outbox rows first)."""
    with own_stack("pgb", STEPUP_PGBOUNCER="1", STEPUP_SENDER="0",
                   STEPUP_HTTPD="lighttpd",
                   STEPUP_SMS_GATEWAY_URL=_gateway_server().url) as s:
        yield s


def server_connections(stack):
    """stepup_app's connections to PostgreSQL, all of them PgBouncer's."""
    [[n]] = stack.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'stepup_app'",
                       superuser=True)
    return int(n)


def test_stack_puts_pgbouncer_between_stepup_fcgi_and_postgresql(pgb):
    env = pgb.stack_env
    conninfo = config_value("stepup-fcgi", pgb.conf_path, "db_conninfo")
    assert f"port={env['STEPUP_PGBOUNCER_PORT']} " in conninfo, conninfo
    assert config_value("stepup-fcgi", pgb.conf_path, "db_prepared_statements") == "0"
    # stepupctl and psql go to PostgreSQL itself (stack.env)
    assert pgb.pg_env["PGPORT"] == env["STEPUP_PG_PORT"]
    assert pgb.env["STEPUP_PGBOUNCER_PORT"] == env["STEPUP_PGBOUNCER_PORT"]
    ini = (pgb.state_dir / "pgbouncer" / "pgbouncer.ini").read_text()
    assert "\npool_mode = transaction\n" in ini
    assert f"\ndefault_pool_size = {POOL_SIZE}\n" in ini
    st = pgb.part("status", check=False)
    line = [x for x in st.stdout.splitlines() if x.startswith("pgbouncer")]
    assert line and " up " in line[0] and "transaction pooling" in line[0], st.stdout
    # Through PgBouncer the search_path pin comes from the role, not a session.
    assert pgb.psql("SELECT setconfig FROM pg_db_role_setting s"
                    "  JOIN pg_roles r ON r.oid = s.setrole WHERE r.rolname = 'stepup_app'") \
        == [['{"search_path=\\"\\""}']]


# The suite's own cases, run on the PgBouncer stack as they are.
SUITE_CASES = [
    t16.test_flow_demo_walks_the_whole_flow,
    t11.test_non_sandbox_code_from_the_outbox,
    t11.test_every_attempt_is_recorded,
    t11.test_idempotent_replay_of_a_204,
    t11.test_idempotent_replay_of_a_wrong_code_is_not_counted_again,
    t05.test_same_ref_replays_204_without_a_new_challenge,
    t05.test_concurrent_calls_with_one_ref_do_the_work_once,
    t06.test_50_concurrent_issues_on_one_session_give_exactly_one_204,
    t06.test_concurrent_sessions_each_get_their_own,
    t12.test_100_concurrent_wrong_codes_stop_exactly_at_the_default_limit,
    t12.test_20_concurrent_right_codes_verify_once,
    t15.test_logged_in_but_not_stepped_up_is_403,
    t15.test_stepped_up_session_gets_the_page_and_the_cgi_its_ids,
    t40.test_challenges_per_programme_is_a_spend_cap,
    t40.test_a_successful_login_is_not_a_failure,
    t62.test_counters_move_with_requests,
    t90.test_database_restart_while_idle_costs_no_request,
    t90.test_database_outage_gives_503_and_workers_recover,
]


@pytest.mark.parametrize("case", SUITE_CASES,
                         ids=[f"{c.__module__}.{c.__name__}" for c in SUITE_CASES])
def test_suite_case_through_pgbouncer(pgb, case):
    case(pgb)


def test_more_clients_than_server_connections(pgb):
    """50 concurrent issues on one session while stepup-fcgi's 4 workers each
    hold a connection to PgBouncer: PostgreSQL sees at most the pool's 2
    connections, and exactly one challenge is issued."""
    p = pgb.make_programme(sandbox=False)
    u = pgb.make_user(p, mobile=GB_MOBILE)
    token = pgb.session(u)
    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            seen.append(server_connections(pgb))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = t06.race(pgb, 50, lambda: pgb.issue(p.api_key, token))
    finally:
        done.set()
        watcher.join(30)
    counts = collections.Counter(
        (r.status, r.json["errorCode"] if r.status == 409 else None) for r in results)
    assert counts == {(204, None): 1, (409, "RETRY_IN_15SEC"): 49}, counts
    assert len(pgb.challenges(token)) == 1
    assert seen and max(seen) <= POOL_SIZE, seen
    clients = pgb.psql("SELECT 1", superuser=True)  # the database still answers
    assert clients == [["1"]]
    # PgBouncer's console: stepup-fcgi's workers are its clients, more of
    # them than the server connections they share.
    pools = pgb_console(pgb, "SHOW POOLS")
    [pool] = [r for r in pools if r["database"] == "stepup" and r["user"] == "stepup_app"]
    assert int(pool["cl_active"]) + int(pool["cl_waiting"]) >= WORKERS, pool
    assert int(pool["sv_active"]) + int(pool["sv_idle"]) + int(pool["sv_used"]) \
        + int(pool["sv_tested"]) + int(pool["sv_login"]) <= POOL_SIZE, pool


def pgb_console(stack, command):
    """Rows (dicts) of a command of PgBouncer's console, as its stats user."""
    env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=stack.stack_env["STEPUP_PGBOUNCER_PORT"],
               PGUSER=stack.pg_superuser, PGDATABASE="pgbouncer")
    p = subprocess.run([str(PG_BIN / "psql"), "-X", "-A", "-F", "\x1f", "-c", command],
                       capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = [x for x in p.stdout.splitlines() if x and not x.startswith("(")]
    head = lines[0].split("\x1f")
    return [dict(zip(head, x.split("\x1f"))) for x in lines[1:]]


def test_a_notify_through_a_pooled_connection_wakes_the_sender(pgb, gateway):  # noqa: F811
    """The wake-up (stepup.api_wake_sender) goes through PgBouncer like every
    call; a sender LISTENing on PostgreSQL itself hears it and sends at once."""
    senders = Senders(pgb, gateway)
    try:
        t21.test_notify_wakes_a_waiting_sender_at_once(pgb, gateway, senders)
    finally:
        problems = senders.stop_all()
    assert not problems, problems


def test_the_stacks_sender_connects_directly_and_delivers(pgb, gateway):  # noqa: F811
    """tools/stack's sender part, on this stack: its db_conninfo names
    PostgreSQL, not PgBouncer, and a text issued through PgBouncer reaches
    the gateway and its code verifies."""
    env = dict(pgb.stack_env, STEPUP_SENDER="1")  # the stack was brought up without
    up = _run_stack("up", env, "sender")
    assert up.returncode == 0, up.stderr
    try:
        conninfo = config_value("stepup-sender", pgb.state_dir / "stepup-sender.conf",
                                "db_conninfo")
        assert f"port={pgb.stack_env['STEPUP_PG_PORT']} " in conninfo, conninfo
        flow = Flow(pgb)
        r = pgb.issue(flow.programme.api_key, flow.token)
        assert r.status == 204, r
        [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, timeout=15, to=flow.mobile)
        code = t21.code_in(req["text"])
        assert pgb.verify(flow.programme.api_key, flow.token, "000000").status == 409
        assert pgb.verify(flow.programme.api_key, flow.token, code).status == 204
    finally:
        pgb.part("down", "sender")


def test_prepared_statements_through_transaction_pooling_fail(pgb):
    """db_prepared_statements = 1 through the same PgBouncer: each worker
    prepares its statements on whichever server connection PgBouncer lends
    it, so a second worker finds them there already (42P05) and cannot set
    up its connection; with 4 workers and 2 server connections, at least 2
    never can, and their requests answer 503.  The setting is what makes
    pooling work."""
    conf = pgb.conf_path
    log = pgb.fcgi_log()
    mark = log.stat().st_size
    try:
        set_prepared(pgb, 1)
        results = t06.race(pgb, 40, lambda: pgb.request("GET", "/health"))
        statuses = collections.Counter(r.status for r in results)
        assert statuses[503] > 0, statuses
        text = log.read_text(errors="replace")[mark:]
        assert 'already exists SQLSTATE 42P05' in text, text[-3000:]
    finally:
        set_prepared(pgb, 0)
    # Back to 0: every worker connects, every request is answered.
    assert config_value("stepup-fcgi", conf, "db_prepared_statements") == "0"
    statuses = collections.Counter(r.status for r in
                                   t06.race(pgb, 40, lambda: pgb.request("GET", "/health")))
    assert statuses == {200: 40}, statuses


def set_prepared(stack, value):
    """db_prepared_statements (read at start-up only) changed, and stepup-fcgi
    restarted.  Back to 0, PgBouncer is restarted too, so that no server
    connection keeps what the workers of 1 left in its session (their
    prepared statements, their search_path)."""
    p = subprocess.run([str(BUILD / "src" / "fcgi" / "stepup-fcgi"), "--update-config",
                        str(stack.conf_path), "--set", f"db_prepared_statements={value}"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    if value == 0:
        stack.part("down", "pgbouncer")
        stack.part("up", "pgbouncer")
    stack.restart_fcgi()
    time.sleep(0.5)  # the workers connect at start
