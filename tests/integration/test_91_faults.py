"""Faults, with nothing acknowledged lost (issue 12): an authentication
service is attacked on purpose and fails by accident; these tests make its
behaviour under accidents a measured fact, under load.

The load: CLIENTS concurrent clients (threads) issue step-up challenges,
one request after another, on sessions of their own (a user each) of a
sandbox programme whose retry window, issue limit and rate limits are
lifted, so that every request that reaches the database issues a
challenge.  Every answer is kept: its status, its request-ref and how long
it took.  A challenge records the request-ref that issued it
(stepup.challenges.request_ref), so "every 204 is in the database" is a
join of the refs answered 204 against that table, read as the owner once
the fault is over.  In the PostgreSQL scenarios two stepup-sender
processes meanwhile drain queued texts into the fake gateway.

The scenarios, a test each:
  - PostgreSQL stopped (pg_ctl stop -m fast), then started again;
  - PostgreSQL killed: SIGKILL of every process of the cluster, a crash
    (then started again: crash recovery);
  - PostgreSQL frozen: SIGSTOP of every process of the cluster, a server
    that stopped answering (a paused machine, a lost network: its kernel
    still accepts connections), then SIGCONT;
  - a call that waits on a lock (session rows held FOR UPDATE) past
    db_statement_timeout_ms;
  - the stepup-fcgi process that serves killed with SIGKILL, twice in a
    row: the supervisor of the stand-alone stepup-fcgi (lighttpd,
    apache-proxy) or mod_fcgid (apache-fcgid) starts another.
Every scenario asserts that no answer is 500 and none hangs
(CLIENT_TIMEOUT, far above the connect and statement timeouts); that the
503s carry a request-ref and come within the timeouts; that stepup
recovers by itself, without a restart; that every challenge answered 204
is in the database; and that the senders delivered every text exactly
once (the gateway counts) and left none PENDING or SENDING.  Each prints
what it measured, and appends it to log/faults.txt of the state
directory.

The module runs with db_statement_timeout_ms = 1000 (the lock and the
frozen scenarios wait for it), and with synchronous_commit on for the
database stepup.  The suite's cluster runs with synchronous_commit=off
for speed, and then a crash loses commits it acknowledged: exactly what
the killed scenario must be able to see, and not what a production
cluster does, whose default is on.  On the suite's command line (-c) the
setting outranks ALTER SYSTEM (postgresql.auto.conf), so it is the
database's (ALTER DATABASE), which every new session takes; the fixture
sets it before stepup-fcgi is restarted with the shorter timeout, so that
every connection has it, and the senders start later.  fsync=off stays: a
process crash leaves the WAL written, in the kernel's page cache.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass

import pytest

import openapi_check
from conftest import BUILD, GB_MOBILE, PG_BIN
from sender_fixtures import Flow, gateway, senders, wait_until  # noqa: F401 (fixtures)
from test_60_reload import update

FCGI = BUILD / "src" / "fcgi" / "stepup-fcgi"
CLIENTS = 8
SESSIONS = 3  # per client, used in turn
STATEMENT_TIMEOUT_MS = 1000  # db_statement_timeout_ms in this module
CANCEL_GRACE_S = 1  # DB_CANCEL_GRACE_MS (db.h)
CONNECT_TIMEOUT_S = 3  # connect_timeout of the stack's db_conninfo (tools/lib/stack/fcgi.sh)
# The longest a request may take: a connect attempt that times out, then
# a call past its statement timeout and the grace of its cancel, and room
# for a busy machine (2 cores shared, sanitizers).
LONGEST_S = CONNECT_TIMEOUT_S + STATEMENT_TIMEOUT_MS / 1000 + CANCEL_GRACE_S + 10
# A client waiting this long has met a hang: the test fails.
CLIENT_TIMEOUT = 60
# Seconds stepup may take to serve again once the fault is over.
RECOVERY_S = 30
RETRY_PAUSE = 0.05  # a client waits this long after an answer other than 204
LIMITS_OFF = {name: "off" for name in (
    "login-failures-per-user", "login-per-address", "challenges-per-user",
    "challenges-per-number", "challenges-per-prefix", "challenges-per-programme",
    "verify-failures-per-user")}
# The senders: leases far longer than any outage here, so that no message
# is claimed again while its sender still holds its result.
MESSAGES = 400  # queued before the fault, and as many again just before it
SENDER_SETTINGS = dict(batch_size=20, lease_seconds=120, http_timeout_ms=2000,
                       max_attempts=50, backoff_base_ms=100, backoff_max_ms=1000,
                       poll_interval_ms=200, db_statement_timeout_ms=STATEMENT_TIMEOUT_MS,
                       log_level="warn")
GATEWAY_DELAY = 0.005
LOG_LINE = re.compile(r"stepup-fcgi\[(\d+)\] \w+ ref=([0-9a-f-]{36}) \S+ \S+ route=\S+ "
                      r"-> (\d+) \((\d+) ms")


# -- the load ------------------------------------------------------------------

@dataclass
class Answer:
    client: int
    started: float  # time.monotonic()
    ended: float
    status: int = None  # None: no HTTP answer (error says why)
    ref: str = None  # the request-ref header: stepup answered (not the web server alone)
    error: str = None
    msg: object = None  # headers and body of the first answer of each kind
    raw: bytes = b""

    @property
    def duration(self):
        return self.ended - self.started

    @property
    def kind(self):
        if self.status is None:
            return f"no answer ({self.error})"
        return str(self.status) if self.ref else f"{self.status} from the web server"


class Load:
    """Clients (threads) issuing step-up challenges until stop(): those of
    users[first:first + count] of the module's pool (the fixture users)."""

    def __init__(self, stack, users, first=0, count=CLIENTS):
        self.stack = stack
        self.programme, tokens = users
        self.tokens = tokens[first:first + count]
        assert len(self.tokens) == count
        self.answers = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._kinds = set()

    def start(self):
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._run, args=(c,), daemon=True)
                         for c in range(len(self.tokens))]
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(CLIENT_TIMEOUT + 10)
            assert not t.is_alive(), "a client of the load never returned"
        self.stopped = time.monotonic()
        return self.answers

    def _run(self, client):
        tokens = self.tokens[client]
        i = 0
        while not self._stop.is_set():
            a = self._issue(client, tokens[i % len(tokens)])
            i += 1
            with self._lock:
                self.answers.append(a)
            if a.status != 204:
                time.sleep(RETRY_PAUSE)

    def _issue(self, client, token):
        a = Answer(client, time.monotonic(), 0.0)
        conn = http.client.HTTPConnection(self.stack.host, self.stack.port,
                                          timeout=CLIENT_TIMEOUT)
        try:
            conn.request("POST", "/stepup/challenges/otp/SMS",
                         headers={"api-key": self.programme.api_key,
                                  "Authorization": f"Bearer {token}"})
            r = conn.getresponse()
            raw = r.read()
            a.status, a.ref = r.status, r.getheader("request-ref")
            if a.status != 204:
                a.raw = raw
            with self._lock:
                if a.kind not in self._kinds:  # kept for openapi_check
                    self._kinds.add(a.kind)
                    a.msg = r.msg
        except (OSError, http.client.HTTPException) as e:
            a.error = "timeout: a hang" if isinstance(e, TimeoutError) else type(e).__name__
        finally:
            conn.close()
            a.ended = time.monotonic()
        return a

    def snapshot(self):
        with self._lock:
            return list(self.answers)

    def wait(self, predicate, timeout, what):
        """Wait until predicate(answers so far) holds; the time it did."""
        wait_until(lambda: predicate(self.snapshot()), timeout=timeout, interval=0.05, what=what)
        return time.monotonic()

    def each_client_answered(self, status, since, count=1):
        """A predicate: every client has count answers status started after since."""
        def holds(answers):
            per = Counter(a.client for a in answers if a.status == status and a.started >= since)
            return all(per[c] >= count for c in range(len(self.tokens)))
        return holds


def steady(load):
    """Wait until every client was answered 204 a few times."""
    load.wait(load.each_client_answered(204, load.started, 3), 60, "steady load")


def recovered(load, since):
    """Wait until every client was answered 204 for a request sent after
    since, then until a whole second passed with nothing but 204s (a
    process whose connect failed just before waits db_retry_seconds before
    it tries again; mod_fcgid runs many).  Returns (when the last client
    had its first such 204, when the last other answer came)."""
    load.wait(load.each_client_answered(204, since), RECOVERY_S, "recovery")
    first = max(min(a.ended for a in load.snapshot()
                    if a.client == c and a.status == 204 and a.started >= since)
                for c in range(len(load.tokens)))

    def last_failure(answers):
        return max((a.ended for a in answers if a.status != 204), default=since)

    def quiet(answers):
        last = last_failure(answers)
        return time.monotonic() - last >= 1.0 and any(a.started > last for a in answers)

    load.wait(quiet, RECOVERY_S, "a second of 204s only")
    return first, last_failure(load.snapshot())


# -- what is checked and printed -------------------------------------------------

def rows_for(stack, refs):
    """(challenges whose request_ref is one of refs, distinct refs among them)."""
    if not refs:
        return 0, 0
    sql = ("CREATE TEMP TABLE answered (ref text PRIMARY KEY);\n"
           "COPY answered FROM STDIN;\n" + "".join(f"{r}\n" for r in set(refs)) + "\\.\n"
           "SELECT count(*), count(DISTINCT c.request_ref)"
           "  FROM stepup.challenges c JOIN answered a ON a.ref = c.request_ref;\n")
    [[rows, distinct]] = stack.psql(sql)
    return int(rows), int(distinct)


def check_answers(answers, web_server_errors=False):
    """What every scenario holds: no hang, no 500 of stepup, every answer of
    stepup with a request-ref and as documented, every 503 with its body and
    Retry-After, none longer than LONGEST_S; without web_server_errors, every
    answer is stepup's own."""
    hangs = [a for a in answers if a.error and a.error.startswith("timeout")]
    assert not hangs, f"{len(hangs)} requests hung past {CLIENT_TIMEOUT} s"
    for a in answers:
        if a.msg is not None and a.ref:
            openapi_check.check("POST", "/stepup/challenges/otp/SMS", a.status, a.msg,
                                a.raw if a.status != 204 else b"")
    if not web_server_errors:
        strays = Counter(a.kind for a in answers if a.ref is None)
        assert not strays, f"answers not from stepup: {strays}"
    errors = Counter(a.kind for a in answers if a.ref and a.status not in (204, 503))
    assert not errors, f"stepup answered {errors}"
    for a in answers:
        if a.status == 503 and a.ref:
            assert set(json.loads(a.raw)) == {"code", "message"}, a.raw
    longest = max(a.duration for a in answers)
    assert longest < LONGEST_S, f"an answer took {longest:.1f} s"


def check_in_database(stack, answers):
    """Every challenge answered 204 is in the database, once: (refs, rows)."""
    refs = [a.ref for a in answers if a.status == 204]
    assert len(set(refs)) == len(refs), "a request-ref answered twice"
    rows, distinct = rows_for(stack, refs)
    assert (rows, distinct) == (len(refs), len(refs)), \
        f"{len(refs)} challenges answered 204, {distinct} of them in the database ({rows} rows)"
    return len(refs), rows


def span(answers, status):
    """Seconds from the first answer of status sent to the last received (0: none)."""
    these = [a for a in answers if a.status == status]
    return max(a.ended for a in these) - min(a.started for a in these) if these else 0.0


def figures(answers):
    """The figures every scenario prints."""
    counts = Counter(a.kind for a in answers)
    return {
        "requests answered": len(answers),
        "by status": ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
        "longest answer": f"{max(a.duration for a in answers):.2f} s",
        "503s came during": f"{span(answers, 503):.2f} s",
    }


def report(stack, capsys, title, values):
    """Print the figures (past pytest's capture) and append them to log/faults.txt."""
    server = stack.env.get("STEPUP_HTTPD", "lighttpd")
    lines = [f"faults [{server}] {title}:"] + [f"    {k}: {v}" for k, v in values.items()]
    with open(stack.state_dir / "log" / "faults.txt", "a") as f:
        f.write("\n".join(lines) + "\n")
    with capsys.disabled():
        print("\n" + "\n".join(lines))


# -- the senders -----------------------------------------------------------------

class Drain:
    """Two senders draining queued texts of a programme of their own into the
    fake gateway: MESSAGES now, MESSAGES more at more() (just before a
    fault, so that texts are queued whatever the senders' speed)."""

    def __init__(self, stack, gateway, senders, **settings):
        self.stack = stack
        self.gateway = gateway
        self.flow = Flow(stack)
        self.ids = self.flow.insert(MESSAGES)
        gateway.rule(delay=GATEWAY_DELAY)
        merged = dict(SENDER_SETTINGS, **settings)
        self.senders = [senders.start(name=f"fault-{i}-{os.urandom(3).hex()}", **merged)
                        for i in range(2)]

    def more(self):
        self.ids += self.flow.insert(MESSAGES)

    def counts(self):
        rows = self.stack.psql("SELECT status, count(*) FROM stepup.sms_outbox"
                               " WHERE programme_id = :'p' GROUP BY status",
                               p=self.flow.programme.id)
        return {status: int(n) for status, n in rows}

    def wait_some_sent(self):
        wait_until(lambda: self.counts().get("SENT", 0) >= 20, timeout=60, what="texts sent")

    def check(self):
        """Wait until every text is SENT; each reached the gateway once; the
        figures."""
        started = time.monotonic()
        wait_until(lambda: self.counts() == {"SENT": len(self.ids)}, timeout=120, interval=0.25,
                   what=f"all {len(self.ids)} texts SENT")
        drained = time.monotonic() - started
        per_id = Counter(r["messageId"] for r in self.gateway.requests(message_ids=self.ids))
        missing = set(self.ids) - set(per_id)
        doubled = {mid: n for mid, n in per_id.items() if n > 1}
        assert not missing, f"{len(missing)} texts never reached the gateway"
        assert not doubled, f"texts sent more than once, with no sender killed: {doubled}"
        for s in self.senders:
            assert s.running(), f"sender {s.name} exited:\n{s.log()[-2000:]}"
        attempts = self.stack.psql(
            "SELECT a.status, count(*) FROM stepup.sms_attempts a"
            "  JOIN stepup.sms_outbox o ON o.id = a.outbox_id"
            " WHERE o.programme_id = :'p' GROUP BY a.status", p=self.flow.programme.id)
        return {"texts": len(self.ids), "delivered once each": len(per_id),
                "drained": f"{drained:.1f} s after the load stopped",
                "attempts": ", ".join(f"{s}: {n}" for s, n in sorted(attempts))}


# -- the stack's pieces ----------------------------------------------------------

def healthy(stack):
    wait_until(lambda: stack.request("GET", "/health").status == 200, timeout=60,
               interval=0.2, what="GET /health 200")


def postgres_pids(stack):
    """The postmaster and its children."""
    postmaster = int((stack.state_dir / "pg" / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(postmaster)],
                              capture_output=True, text=True).stdout.split()
    return [postmaster] + [int(p) for p in children]


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def gone(pids):
    return not any(os.path.exists(f"/proc/{pid}") for pid in pids)


class RowLock:
    """Rows held FOR UPDATE by an open transaction of a psql process of its
    own (as the owner), until release()."""

    def __init__(self, stack, where):
        self.proc = subprocess.Popen(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=stack.subprocess_env(PGUSER=stack.pg_owner))
        self.proc.stdin.write("BEGIN;\n"
                              f"WITH l AS (SELECT id FROM stepup.sessions WHERE {where} FOR UPDATE)"
                              " SELECT 'locked ' || count(*) FROM l;\n")
        self.proc.stdin.flush()
        self.line = self.proc.stdout.readline().strip()
        assert self.line.startswith("locked "), (self.line, self.proc.stderr.read())

    def release(self):
        self.proc.stdin.write("ROLLBACK;\n")
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0, self.proc.stderr.read()


def fcgi_log_lines(stack, since):
    """(pid, ref, status, ms) of the request lines stepup-fcgi logged after offset since."""
    with open(stack.fcgi_log(), "rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    return [(int(m[1]), m[2], int(m[3]), int(m[4])) for m in LOG_LINE.finditer(text)]


def workers(stack):
    """The worker threads of a stepup-fcgi process (workers)."""
    return int(subprocess.run([str(FCGI), "-c", str(stack.conf_path), "--get-config", "workers"],
                              capture_output=True, text=True, check=True).stdout)


@pytest.fixture(scope="module")
def users(stack):
    """The load's sandbox programme (retry window, issue limit and rate
    limits lifted; sessions that last) and its users, each with SESSIONS
    sessions: CLIENTS for the load, and enough more to hold every worker of
    a process on a locked session: (programme, [[token, ...], ...])."""
    programme = stack.make_programme(retry_seconds=0, issue_limit=1000000, session_ttl=3600,
                                     limits=LIMITS_OFF)
    tokens = []
    for _ in range(CLIENTS + max(workers(stack), 4)):
        user = stack.make_user(programme, mobile=GB_MOBILE)
        tokens.append([stack.session(user) for _ in range(SESSIONS)])
    return programme, tokens


@pytest.fixture(scope="module")
def faults(stack):
    """The module's settings: synchronous_commit on for the database (see
    the docstring) and db_statement_timeout_ms = STATEMENT_TIMEOUT_MS, both
    taken by a restart of stepup-fcgi; restored afterwards."""
    stack.psql("ALTER DATABASE stepup SET synchronous_commit = on")
    original = stack.conf_path.read_bytes()
    update(stack, db_statement_timeout_ms=STATEMENT_TIMEOUT_MS)
    stack.restart_fcgi()
    healthy(stack)
    yield
    stack.conf_path.write_bytes(original)
    stack.restart_fcgi()
    stack.psql("ALTER DATABASE stepup RESET synchronous_commit")
    healthy(stack)


# -- the scenarios ---------------------------------------------------------------

def postgres_outage(stack, users, capsys, gateway, senders, title, fault, restore, hold=2.0,
                    **sender_settings):
    """The scenario of the three PostgreSQL faults: load and senders, fault()
    once both run, hold it hold seconds (at least until every client got
    a 503), restore(), then check and print."""
    pids = stack.fcgi_pids()
    load = Load(stack, users)
    drain = Drain(stack, gateway, senders, **sender_settings)
    load.start()
    steady(load)
    drain.wait_some_sent()
    drain.more()
    queued = sum(n for s, n in drain.counts().items() if s != "SENT")
    fault_at = time.monotonic()
    try:
        fault()
        load.wait(load.each_client_answered(503, fault_at), LONGEST_S + 10,
                  "503 for every client")
        time.sleep(max(0.0, fault_at + hold - time.monotonic()))
    finally:
        restored_at = time.monotonic()
        restore()
    back_at = time.monotonic()
    first_204, last_503 = recovered(load, back_at)
    answers = load.stop()

    check_answers(answers)
    refs, rows = check_in_database(stack, answers)
    committed_503 = rows_for(stack, [a.ref for a in answers if a.status == 503])[1]
    assert set(pids) <= set(stack.fcgi_pids()), "stepup-fcgi was restarted instead of recovering"
    sent = drain.check()
    values = figures(answers)
    values.update({
        "fault held": f"{restored_at - fault_at:.2f} s (PostgreSQL back after "
                      f"{back_at - fault_at:.2f} s)",
        "serving again": f"every client {first_204 - back_at:.2f} s after PostgreSQL was "
                         f"back, the last 503 {max(0.0, last_503 - back_at):.2f} s after",
        "challenges answered 204": refs, "rows found for them": rows,
        "503s whose challenge committed all the same": committed_503,
        "texts queued at the fault": queued,
    })
    values.update({f"senders: {k}": v for k, v in sent.items()})
    report(stack, capsys, title, values)


def test_postgres_stopped_under_load(stack, faults, users, capsys, gateway, senders):
    postgres_outage(stack, users, capsys, gateway, senders, "PostgreSQL stopped (fast shutdown)",
                    lambda: stack.part("down", "postgres"), lambda: stack.part("up", "postgres"))


def test_postgres_killed_under_load(stack, faults, users, capsys, gateway, senders):
    def kill():
        pids = postgres_pids(stack)
        signal_all(pids, signal.SIGKILL)
        wait_until(lambda: gone(pids), timeout=30, what="PostgreSQL's processes gone")

    postgres_outage(stack, users, capsys, gateway, senders, "PostgreSQL killed (SIGKILL: a crash)",
                    kill, lambda: stack.part("up", "postgres"))


def test_postgres_frozen_under_load(stack, faults, users, capsys, gateway, senders):
    frozen = []

    def freeze():
        frozen.extend(postgres_pids(stack))
        signal_all(frozen, signal.SIGSTOP)

    try:
        postgres_outage(stack, users, capsys, gateway, senders,
                        "PostgreSQL frozen (SIGSTOP: a server that stopped answering)",
                        freeze, lambda: signal_all(frozen, signal.SIGCONT), hold=5.0)
    finally:
        signal_all(frozen, signal.SIGCONT)


def test_call_waiting_on_a_lock_past_the_statement_timeout(stack, faults, users, capsys):
    """Sessions of some clients held FOR UPDATE past the statement timeout:
    their requests are cancelled and answered 503 (and roll back); the other
    clients go on; once the rows are free, the processes that answered the
    503s serve 204s, none restarted."""
    pids = stack.fcgi_pids()
    blocked = max(workers(stack), 4)  # clients whose sessions are locked: enough for every worker
    load = Load(stack, users, count=CLIENTS + blocked)
    hashes = ", ".join(f"decode('{stack.token_hash_hex(t)}', 'hex')"
                       for tokens in load.tokens[CLIENTS:] for t in tokens)
    since = stack.fcgi_log().stat().st_size
    load.start()
    steady(load)
    lock = RowLock(stack, f"token_hash IN ({hashes})")
    locked_at = time.monotonic()
    try:
        load.wait(lambda answers: all(
            sum(1 for a in answers if a.client == c and a.status == 503) >= 2
            for c in range(CLIENTS, CLIENTS + blocked)), LONGEST_S + 20, "503s on locked sessions")
    finally:
        released_at = time.monotonic()
        lock.release()
    released = stack.fcgi_log().stat().st_size
    first_204, _ = recovered(load, released_at)
    # The processes that answered the 503s serve again: each answers 204s
    # after the release (the load goes on meanwhile).
    cancelled_in = {pid for pid, _, status, _ in fcgi_log_lines(stack, since) if status == 503}

    def served_again():
        return cancelled_in <= {pid for pid, _, status, _ in fcgi_log_lines(stack, released)
                                if status == 204}
    try:
        wait_until(served_again, timeout=30, interval=0.2,
                   what="every process that answered a 503 serving 204s again")
    finally:
        answers = load.stop()

    check_answers(answers)
    refs, rows = check_in_database(stack, answers)
    free = [a for a in answers if a.client < CLIENTS]
    assert all(a.status == 204 for a in free), Counter(a.kind for a in free)
    on_locked = [a for a in answers if a.client >= CLIENTS
                 and a.started > locked_at and a.ended < released_at]
    assert on_locked and all(a.status == 503 for a in on_locked), \
        Counter(a.kind for a in on_locked)
    refs_503 = [a.ref for a in answers if a.status == 503]
    assert rows_for(stack, refs_503) == (0, 0), "a cancelled call committed its challenge"
    # What stepup-fcgi measured: each 503 waited the statement timeout, and
    # no more than its grace and some slack.
    lines = {ref: (pid, status, ms) for pid, ref, status, ms in fcgi_log_lines(stack, since)}
    waited = [lines[r][2] for r in refs_503 if r in lines]
    assert len(waited) == len(refs_503), "503s missing from stepup-fcgi's log"
    assert all(STATEMENT_TIMEOUT_MS <= ms < STATEMENT_TIMEOUT_MS + CANCEL_GRACE_S * 1000 + 5000
               for ms in waited), sorted(waited)
    assert set(pids) <= set(stack.fcgi_pids()), "stepup-fcgi was restarted"
    values = figures(answers)
    del values["503s came during"]
    values.update({
        "rows locked": lock.line.split()[1],
        "503s while locked": f"{len(refs_503)}, each after {min(waited)}..{max(waited)} ms "
                             f"in stepup-fcgi (db_statement_timeout_ms {STATEMENT_TIMEOUT_MS})",
        "lock held": f"{released_at - locked_at:.2f} s",
        "serving again": f"{first_204 - released_at:.2f} s after the release, by the "
                         f"{len(cancelled_in)} process(es) that answered the 503s",
        "challenges answered 204": refs, "rows found for them": rows,
        "rows found for the 503s": 0,
    })
    report(stack, capsys, "a call waiting on a lock past the statement timeout", values)


def test_fcgi_killed_under_load(stack, faults, users, capsys):
    """SIGKILL of the process(es) serving, twice in a row: the second time
    within a second of the first restart, so that the supervisor waits."""
    supervisor = stack.fcgi_supervisor_pid()
    since = stack.fcgi_log().stat().st_size
    load = Load(stack, users).start()
    steady(load)
    restarts = []  # (killed at, a new serving process seen at, processes killed)
    for _ in range(2):  # the second as soon as the first replacement runs
        victims = stack.fcgi_pids()
        assert victims
        killed_at = time.monotonic()
        signal_all(victims, signal.SIGKILL)
        wait_until(lambda: set(stack.fcgi_pids()) - set(victims), timeout=RECOVERY_S,
                   interval=0.02, what="a new serving process")
        restarts.append((killed_at, time.monotonic(), len(victims)))
    first_kill, last_kill = restarts[0][0], restarts[-1][0]
    back_at, last_failure = recovered(load, last_kill)
    answers = load.stop()

    check_answers(answers, web_server_errors=True)
    refs, rows = check_in_database(stack, answers)
    failed = [a for a in answers if a.status != 204]
    before = [a for a in failed if a.ended < first_kill]
    assert not before, f"failures before the kills: {before[:5]}"
    failing_for = max(0.0, last_failure - first_kill)
    assert failing_for < 20, f"requests failed for {failing_for:.1f} s after the first kill"
    if supervisor is not None:
        assert stack.fcgi_supervisor_pid() == supervisor
        log = stack.fcgi_log().read_bytes()[since:].decode("utf-8", "replace")
        assert log.count("was killed by signal 9") == 2, log[-3000:]
        lived = restarts[1][0] - restarts[0][1]
        if lived < 0.5:  # the second process was killed well within its first second
            assert "at most one start a second" in log, log[-3000:]
    values = figures(answers)
    del values["503s came during"]
    values.update({
        "processes killed": " then ".join(str(n) for _, _, n in restarts),
        "a new serving process after": ", ".join(f"{seen - k:.2f} s" for k, seen, _ in restarts),
        "requests failed during": f"{failing_for:.2f} s from the first kill "
                                  f"({len(failed)} failures)",
        "every client served 204 again": f"{back_at - first_kill:.2f} s after the first kill",
        "restarted by": "the supervisor of stepup-fcgi --daemon" if supervisor else "mod_fcgid",
        "challenges answered 204": refs, "rows found for them": rows,
    })
    report(stack, capsys, "stepup-fcgi killed (SIGKILL), twice", values)
