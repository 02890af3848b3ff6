"""Failover on Patroni (issue 12 item 4): PostgreSQL as a primary and a
synchronous standby under Patroni, on a stack of its own (`tools/stack up`
with STEPUP_PG_HA=patroni: one etcd, two nodes, stepup-fcgi and the
sender given both nodes in a multi-host db_conninfo with
target_session_attrs=read-write).

Under load (client threads issuing step-up challenges on many sessions of
a programme with no retry window, no issue limit and no rate limit), the
primary is killed: SIGKILL to its Patroni and its postmaster, as a machine
that dies would stop both at once.  Patroni promotes the synchronous
standby once the dead primary's leader key expires (its ttl); stepup-fcgi
and the sender find the new primary by themselves.  Then:

- no answer is a 500, or anything but 204 and 503, and each carries its
  request-ref;
- 503s come only during the switch, and none before the kill;
- every challenge answered 204, before the kill and after, has its row on
  the new primary (stepup.challenges.request_ref): a commit is acknowledged
  only once the standby has it (synchronous_mode);
- the same stepup-fcgi and sender processes serve on, and a text queued
  after the switch reaches the (fake) gateway.

What it measured is printed: the seconds of 503, the answers by status, the
rows found.  The database is behind stepup-fcgi whatever web server is in
front: it runs behind lighttpd only."""

import collections
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass

import pytest

from conftest import GB_MOBILE, PG_BIN, own_stack
from sender_fixtures import code_in, gateway, wait_until  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(
    os.environ.get("STEPUP_HTTPD", "lighttpd") != "lighttpd",
    reason="the failover happens behind stepup-fcgi, whatever web server is in front: "
           "the lighttpd run covers it")

THREADS = 6  # concurrent clients
SESSIONS = 24  # sessions they issue on, in turn
STEADY = 1.5  # seconds of load before the kill
AFTER = 2.0  # seconds of load after the last 503
SWITCH_LIMIT = 60  # the switch must be over within this (Patroni's ttl is 6 s)
# Killed processes, not a machine: the page cache outlives them, so fsync
# adds nothing here but time.  synchronous_commit stays on: that is the point.
PG_OPTIONS = "-c fsync=off -c full_page_writes=off"


@dataclass
class Answer:
    started: float
    ended: float
    status: int = None  # None: no HTTP answer (error says why)
    ref: str = None
    error: str = None


def members(stack):
    """{name: role} of the cluster, as Patroni's REST API says."""
    for var in ("STEPUP_PATRONI_PORT", "STEPUP_PATRONI_PORT2"):
        url = f"http://127.0.0.1:{stack.stack_env[var]}/cluster"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return {m["name"]: m["role"] for m in json.load(r)["members"]}
        except OSError:
            continue
    return {}


def pid_file(path):
    return int(path.read_text().split()[0])


def audit_reads_on_the_standby(ha):
    """What README's "Replicas for audit reads" says may read from a standby
    does: the auditor's views, and stepupctl audit verify, as stepup_auditor
    with target_session_attrs=standby (libpq then skips the primary)."""
    env = ha.subprocess_env(PGUSER="stepup_auditor", PGTARGETSESSIONATTRS="standby",
                            STEPUP_AUDIT_PUBLIC_KEY=ha.env["STEPUP_AUDIT_PUBLIC_KEY"])
    psql = subprocess.run([str(PG_BIN / "psql"), "-X", "-At", "-c",
                           "SELECT pg_is_in_recovery(), count(*) > 0 FROM audit.events"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert (psql.returncode, psql.stdout) == (0, "t|t\n"), psql.stderr
    verify = subprocess.run([ha.ctl_path, "audit", "verify"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["verified"] is True, verify.stdout


def test_failover_under_load_loses_nothing_answered_204(gateway, capsys):  # noqa: F811
    with own_stack("ha", STEPUP_PG_HA="patroni", STEPUP_PGBOUNCER="0",
                   STEPUP_HTTPD="lighttpd", STEPUP_PG_OPTIONS=PG_OPTIONS,
                   STEPUP_SMS_GATEWAY_URL=gateway.url) as ha:
        run_failover(ha, gateway, capsys)


def run_failover(ha, gateway, capsys):  # noqa: F811
    roles = wait_until(lambda: (lambda m: m if sorted(m.values()) == ["leader", "sync_standby"]
                                else None)(members(ha)),
                       timeout=30, what="a leader and its synchronous standby")
    [leader] = [n for n, r in roles.items() if r == "leader"]
    [standby] = [n for n, r in roles.items() if r == "sync_standby"]
    fcgi_pid = pid_file(ha.state_dir / "run" / "fcgi" / "stepup-fcgi.pid")
    sender_pid = pid_file(ha.state_dir / "run" / "sender" / "stepup-sender.pid")

    limits_off = {name: "off" for name in ("challenges-per-user", "challenges-per-number",
                                           "challenges-per-prefix", "challenges-per-programme")}
    p = ha.make_programme(retry_seconds=0, issue_limit=1000000, limits=limits_off)
    u = ha.make_user(p, mobile=GB_MOBILE)
    tokens = [ha.session(u) for _ in range(SESSIONS)]
    # For after the switch: a programme whose texts go out (no sandbox).
    texts = ha.make_programme(sandbox=False)
    texts_user = ha.make_user(texts, mobile=GB_MOBILE)
    texts_token = ha.session(texts_user)

    audit_reads_on_the_standby(ha)

    answers, lock, stop = [], threading.Lock(), threading.Event()

    def client(i):
        n = i
        while not stop.is_set():
            a = Answer(started=time.monotonic(), ended=0.0)
            try:
                r = ha.issue(p.api_key, tokens[n % SESSIONS])
                a.status, a.ref = r.status, r.ref
            except Exception as e:  # noqa: BLE001 - reported below
                a.error = repr(e)
            a.ended = time.monotonic()
            with lock:
                answers.append(a)
            n += THREADS

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    try:
        time.sleep(STEADY)
        with lock:
            assert answers and all(a.status == 204 for a in answers), answers[-5:]

        # The primary dies: its Patroni and its postmaster at once.
        node = leader[-1]
        patroni_pid = pid_file(ha.state_dir / "run" / "pg" / f"patroni-node{node}.pid")
        postmaster_pid = pid_file(ha.state_dir / "patroni" / leader / "postmaster.pid")
        killed = time.monotonic()
        os.kill(patroni_pid, signal.SIGKILL)
        os.kill(postmaster_pid, signal.SIGKILL)

        # Load goes on until the switch is over: AFTER seconds without a 503.
        deadline = killed + SWITCH_LIMIT
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            with lock:
                late = [a for a in answers if a.started > killed]
                last_bad = max((a.ended for a in late if a.status != 204), default=killed)
                recovered = any(a.status == 204 for a in late) and now - last_bad >= AFTER
            if recovered:
                break
            assert now < deadline, (
                f"no steady 204s within {SWITCH_LIMIT} s of the kill: "
                f"{collections.Counter(a.status for a in late)}")
    finally:
        stop.set()
        for t in threads:
            t.join(60)

    by_status = collections.Counter(a.status for a in answers)
    errors = [a for a in answers if a.status is None]
    assert not errors, f"requests without an HTTP answer: {[a.error for a in errors[:5]]}"
    # Nothing but 204 and 503; never a 500.
    assert set(by_status) <= {204, 503}, by_status
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable, "the kill cost no request at all: was the primary killed?"
    assert all(a.ref for a in answers)
    # No 503 before the kill: each was still waiting when the primary died.
    assert all(a.ended > killed for a in unavailable), \
        [(a.started - killed, a.ended - killed) for a in unavailable if a.ended <= killed]
    first_503 = min(a.started for a in unavailable)
    last_503 = max(a.ended for a in unavailable)
    # After the switch, every answer is 204.
    assert all(a.status == 204 for a in answers if a.started > last_503)

    # The standby is the primary now, and it has every challenge answered 204.
    wait_until(lambda: members(ha).get(standby) == "leader", timeout=30,
               what=f"{standby} leading, as Patroni's REST API says")
    [[port, in_recovery]] = ha.psql("SELECT inet_server_port(), pg_is_in_recovery()")
    standby_port = ha.stack_env["STEPUP_PG_PORT2" if standby == "node2" else "STEPUP_PG_PORT"]
    assert (port, in_recovery) == (standby_port, "f")
    rows = {r[0] for r in ha.psql("SELECT request_ref FROM stepup.challenges"
                                  " WHERE programme_id = :'p'", p=p.id)}
    acknowledged = {a.ref for a in answers if a.status == 204}
    before = {a.ref for a in answers if a.status == 204 and a.ended < killed}
    missing = acknowledged - rows
    assert not missing, f"{len(missing)} challenges answered 204 are not on the new primary"
    assert before and before <= rows
    # A row may exist for a 503 (committed, but the answer was lost with the
    # connection); never for a request nobody made.
    committed_503 = {a.ref for a in unavailable} & rows
    assert rows <= acknowledged | {a.ref for a in unavailable}

    # The same processes serve on: they reconnected by themselves.
    assert pid_file(ha.state_dir / "run" / "fcgi" / "stepup-fcgi.pid") == fcgi_pid
    assert os.path.exists(f"/proc/{fcgi_pid}") and os.path.exists(f"/proc/{sender_pid}")
    assert "database: connected again" in ha.fcgi_log().read_text(errors="replace")
    sender_log = ha.state_dir / "log" / "stepup-sender.log"
    wait_until(lambda: "database: connected again" in sender_log.read_text(errors="replace"),
               timeout=30, what="the sender reconnecting")
    # A text queued after the switch reaches the gateway, and its code verifies.
    sent_at = time.monotonic()
    r = ha.issue(texts.api_key, texts_token)
    assert r.status == 204, r
    [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, timeout=30, to=GB_MOBILE)
    delivered = time.monotonic() - sent_at
    assert ha.verify(texts.api_key, texts_token, code_in(req["text"])).status == 204

    # tools/stack status: the dead node down, the other the leader.
    st = ha.part("status", check=False)
    assert st.returncode == 3, st.stdout
    assert f"patroni-{leader} down" in st.stdout, st.stdout
    assert any(line.startswith(f"patroni-{standby} up") and " leader " in line
               for line in st.stdout.splitlines()), st.stdout

    during = [a for a in answers if a.ended > killed and a.started < last_503]
    with capsys.disabled():
        print(f"\n==== failover on Patroni (ttl 6 s, loop_wait 1 s, retry_timeout 2 s), "
              f"{THREADS} clients issuing:\n"
              f"     503 from {first_503 - killed:+.2f} s to {last_503 - killed:+.2f} s after "
              f"the kill: {last_503 - first_503:.2f} s of 503, "
              f"{len(unavailable)} answers 503 (slowest "
              f"{max(a.ended - a.started for a in during):.2f} s)\n"
              f"     answers by status: {dict(sorted(by_status.items()))} "
              f"({len(before)} answered 204 before the kill)\n"
              f"     rows on the new primary: {len(acknowledged & rows)} of "
              f"{len(acknowledged)} answered 204; {len(committed_503)} of "
              f"{len(unavailable)} answered 503 committed anyway\n"
              f"     a text issued after the switch reached the gateway in {delivered:.2f} s")
