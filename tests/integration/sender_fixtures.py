"""Fixtures and helpers for the tests of stepup-sender (test_2x_sender_*.py
import what they use from here).

The session's stack runs without a sender of its own (conftest.py brings it
up with STEPUP_SENDER=0), so that the earlier tests can read their sealed
outbox rows.  These tests start their own senders against the same
database, each with its own configuration file (under
$state/sender-tests/) and log ($state/log/sender-<name>.log, scanned by the
final secrets test and by the sanitizer check), pointed at an in-process
fake gateway:

    gateway                      FakeGateway, reset for each test
    senders                      start(**settings) -> SenderProcess (its file
                                 written by stepup-sender --init-config); every
                                 sender still running at the end of the test
                                 is stopped with SIGTERM and must exit 0
    Flow(stack)                  a non-sandbox programme and user: issue(),
                                 rows(), row(id), attempts(id), insert(n)
    OutboxLock(stack, seconds)   the outbox locked for a while: a claim waits
                                 (sender_waiting_for_lock tells when)
"""

import atexit
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import BUILD, GB_MOBILE, PG_BIN, seal_code
from fake_gateway import FakeGateway

SENDER_BIN = BUILD / "src" / "sender" / "stepup-sender"
CODE_RE = re.compile(r"\b(\d{6})\b")

# What a test sender starts with (each test may override any key).
BASE_SETTINGS = {
    "provider": "http",
    "poll_interval_ms": "200",
    "batch_size": "20",
    "lease_seconds": "6",
    "max_attempts": "3",
    "backoff_base_ms": "100",
    "backoff_max_ms": "400",
    "http_connect_timeout_ms": "1000",
    "http_timeout_ms": "2000",
    "exec_timeout_ms": "2000",
    "log_level": "info",
}


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it returns a true value (returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout} s (last: {value!r})")
        time.sleep(interval)


class SenderProcess:
    """One stepup-sender started by a test (in the foreground, as a child).
    Its configuration file is written by stepup-sender itself
    (--init-config, outbox_key taken from the stack's stepup.conf); a
    setting whose value is a list (http_header) becomes one line per item."""

    def __init__(self, stack, name, settings):
        self.stack = stack
        self.name = name
        d = stack.state_dir / "sender-tests"
        d.mkdir(exist_ok=True)
        self.conf_path = d / f"{name}.conf"
        self.log_path = stack.state_dir / "log" / f"sender-{name}.log"
        self.settings = dict(settings)
        self.write_config()
        self.proc = None

    def config_args(self, settings=None):
        """The --set arguments of the settings (this process's by default)."""
        pg = self.stack.pg_env
        args = ["--set", f"db_conninfo=host={pg['PGHOST']} port={pg['PGPORT']} "
                         f"dbname={pg['PGDATABASE']} user=stepup_sender "
                         f"application_name=sender-{self.name}"]
        for key, value in (settings if settings is not None else self.settings).items():
            for item in value if isinstance(value, (list, tuple)) else [value]:
                args += ["--set", f"{key}={item}"]
        return args

    def write_config(self, settings=None):
        """(Re)write the file from the settings, as stepup-sender writes it;
        the new file replaces the old one at once (what a reload sees)."""
        tmp = self.conf_path.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        p = subprocess.run([str(SENDER_BIN), "--init-config", str(tmp), "--keys-from",
                            str(self.stack.conf_path)] + self.config_args(settings),
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        tmp.replace(self.conf_path)

    def write_raw(self, text):
        """A file a test writes by hand: one stepup-sender would refuse."""
        tmp = self.conf_path.with_suffix(".new")
        tmp.write_text(text)
        os.chmod(tmp, 0o600)
        tmp.replace(self.conf_path)

    def start(self, wait=True):
        log = open(self.log_path, "ab")
        wrapper = os.environ.get("STEPUP_SENDER_WRAPPER", "").split()
        self.pid_path = self.conf_path.with_suffix(".pid")
        self.proc = subprocess.Popen(wrapper + [str(SENDER_BIN), "-c", str(self.conf_path),
                                                "--pid-file", str(self.pid_path)],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/")
        log.close()
        if wait:
            def started():
                if self.proc.poll() is not None:
                    raise AssertionError(f"sender {self.name} exited {self.proc.returncode}:\n"
                                         f"{self.log()[-2000:]}")
                # the pid file is written once the configuration and providers are up
                return self.pid_path.exists() and \
                    self.pid_path.read_text().strip() == str(self.proc.pid)
            wait_until(started, timeout=20, what=f"sender {self.name} start")
        return self

    @property
    def pid(self):
        return self.proc.pid

    @property
    def owner_marker(self):
        """The part of this process's lease_owner that names it: ':pid:'."""
        return f":{self.proc.pid}:"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def terminate(self, timeout=30):
        """SIGTERM and wait: the exit status."""
        if not self.running():
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        """SIGKILL and reap."""
        self.proc.kill()
        self.proc.wait(timeout=10)


class Senders:
    """The senders of one test."""

    def __init__(self, stack, gateway):
        self.stack = stack
        self.gateway = gateway
        self.started = []

    def make(self, name=None, **settings):
        name = name or f"s{len(self.started) + 1}-{uuid.uuid4().hex[:6]}"
        merged = dict(BASE_SETTINGS, http_url=self.gateway.url)
        merged.update({k: v if isinstance(v, (list, tuple)) else str(v)
                       for k, v in settings.items()})
        p = SenderProcess(self.stack, name, merged)
        self.started.append(p)
        return p

    def start(self, name=None, **settings):
        return self.make(name, **settings).start()

    def stop_all(self):
        problems = []
        for p in self.started:
            if p.running():
                code = p.terminate()
                if code != 0:
                    problems.append(f"sender {p.name} exited {code}:\n{p.log()[-3000:]}")
        return problems


_GATEWAY = []  # the session's one fake gateway, started at first use


def _gateway_server():
    if not _GATEWAY:
        gw = FakeGateway().start()
        atexit.register(gw.stop)
        _GATEWAY.append(gw)
    return _GATEWAY[0]


@pytest.fixture
def gateway():
    """The fake gateway, with no rules and no recorded requests."""
    gw = _gateway_server()
    gw.reset()
    yield gw
    gw.reset()


@pytest.fixture
def senders(stack, gateway):
    s = Senders(stack, gateway)
    yield s
    problems = s.stop_all()
    assert not problems, "\n".join(problems)


class Flow:
    """A non-sandbox programme with one enrolled user, and what the tests
    read about its messages."""

    OUTBOX_COLS = ["id", "challenge_id", "to_number", "status", "attempts", "has_template",
                   "has_sealed", "sealed", "last_error", "provider", "provider_message_id",
                   "lease_owner", "key_id"]
    ATTEMPT_COLS = ["attempt", "sender", "provider", "status", "http_status", "exit_code",
                    "error", "provider_message_id", "duration_ms"]

    def __init__(self, stack, mobile=GB_MOBILE, **programme_opts):
        opts = dict(sandbox=False, retry_seconds=0, issue_limit=1000)
        opts.update(programme_opts)
        self.stack = stack
        self.programme = stack.make_programme(**opts)
        self.user = stack.make_user(self.programme, mobile=mobile)
        self.mobile = mobile
        self.token = stack.session(self.user)

    def set(self, *args):
        self.stack.ctl("programme", "set", self.programme.id, *args)

    def issue(self, new_session=False):
        """Issue a challenge over HTTP (204); the new outbox row's id.  Each
        issue supersedes the session's previous challenge, unless it is made
        in a new session (new_session: which becomes self.token)."""
        if new_session:
            self.token = self.stack.session(self.user)
        before = {r["id"] for r in self.rows()}
        r = self.stack.issue(self.programme.api_key, self.token)
        assert r.status == 204, r
        new = [r for r in self.rows() if r["id"] not in before]
        assert len(new) == 1, new
        return new[0]["id"]

    def rows(self):
        rows = self.stack.psql(
            "SELECT id, challenge_id, to_number, status, attempts, body_template IS NOT NULL,"
            "       code_sealed IS NOT NULL, coalesce(encode(code_sealed, 'hex'), ''),"
            "       coalesce(last_error, ''), coalesce(provider, ''),"
            "       coalesce(provider_message_id, ''), coalesce(lease_owner, ''),"
            "       coalesce(key_id, '')"
            "  FROM stepup.sms_outbox WHERE programme_id = :'p' ORDER BY created_at, id",
            p=self.programme.id)
        out = []
        for r in rows:
            d = dict(zip(self.OUTBOX_COLS, r))
            d["attempts"] = int(d["attempts"])
            d["has_template"] = d["has_template"] == "t"
            d["has_sealed"] = d["has_sealed"] == "t"
            out.append(d)
        return out

    def row(self, outbox_id):
        [r] = [r for r in self.rows() if r["id"] == outbox_id]
        return r

    def code_of(self, outbox_id):
        """The sealed code of a message not sent yet (remembered for the secrets scan)."""
        r = self.row(outbox_id)
        assert r["has_sealed"], r
        return self.stack.open_code(r["challenge_id"], r["sealed"], r["to_number"], r["key_id"])

    def attempts(self, outbox_id):
        rows = self.stack.psql(
            "SELECT attempt, sender, coalesce(provider, ''), status, coalesce(http_status::text, ''),"
            "       coalesce(exit_code::text, ''), coalesce(error, ''),"
            "       coalesce(provider_message_id, ''), coalesce(duration_ms::text, '')"
            "  FROM stepup.sms_attempts WHERE outbox_id = :'o' ORDER BY attempt", o=outbox_id)
        return [dict(zip(self.ATTEMPT_COLS, r)) for r in rows]

    def wait_status(self, outbox_id, statuses, timeout=15):
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)
        return wait_until(lambda: (lambda r: r if r["status"] in statuses else None)(
            self.row(outbox_id)), timeout=timeout, what=f"message {outbox_id} in {statuses}")

    def insert(self, n, template="Fault test code: {code}.", expires_in=3600):
        """n challenges and their outbox rows straight into the database (as
        the superuser, with COPY), each code sealed here with the outbox key
        exactly as stepup-fcgi seals it.  Returns the outbox ids."""
        session_id = self.stack.session_id(self.token)
        challenges, outbox, ids = [], [], []
        for _ in range(n):
            cid, oid = uuid.uuid4(), uuid.uuid4()
            code = f"{int.from_bytes(os.urandom(4), 'big') % 1000000:06d}"
            key_id, sealed = seal_code(self.stack.outbox_ring, cid, self.mobile, code)
            challenges.append(f"{cid}\t{session_id}\t{self.user.id}\t{self.programme.id}\tSTEPUP\tSMS\t"
                              f"{self.mobile}\t\\\\x{'00' * 32}\tf\tPENDING\t0\t"
                              f"{expires_in}\n")
            outbox.append(f"{oid}\t{cid}\t{self.programme.id}\t{self.mobile}\t{template}\t"
                          f"\\\\x{sealed.hex()}\t{key_id}\n")
            ids.append(str(oid))
        sql = ("CREATE TEMP TABLE c_in (id uuid, session_id uuid, user_id uuid, programme_id uuid,"
               " purpose text, channel text, mobile text, code_hash bytea, sandbox boolean,"
               " status text, attempts integer, expires_in integer);\n"
               "COPY c_in FROM STDIN;\n" + "".join(challenges) + "\\.\n"
               "INSERT INTO stepup.challenges (id, session_id, user_id, programme_id, purpose,"
               " channel, mobile, code_hash, sandbox, status, attempts, expires_at)"
               " SELECT id, session_id, user_id, programme_id, purpose, channel, mobile, code_hash,"
               " sandbox, status, attempts, now() + make_interval(secs => expires_in) FROM c_in;\n"
               "COPY stepup.sms_outbox (id, challenge_id, programme_id, to_number, body_template,"
               " code_sealed, key_id) FROM STDIN;\n" + "".join(outbox) + "\\.\n"
               "SELECT pg_notify('stepup_outbox', 'bulk');\n")
        self.stack.psql(sql)
        return ids


def all_sent(flow):
    """True when every message of the flow's programme is SENT."""
    return all(r["status"] == "SENT" for r in flow.rows())


class OutboxLock:
    """The outbox locked (LOCK TABLE ... IN EXCLUSIVE MODE, as the
    superuser) for `seconds`, by a psql of its own: a sender's claim
    (SELECT ... FOR UPDATE) waits for it, so a test can make a claim come
    back late.  Returns once the lock is held."""

    def __init__(self, stack, seconds):
        env = stack.subprocess_env(PGUSER=stack.pg_superuser, PGAPPNAME="outbox-lock")
        self.proc = subprocess.Popen(
            [str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)
        self.proc.stdin.write("BEGIN;\nLOCK TABLE stepup.sms_outbox IN EXCLUSIVE MODE;\n"
                              f"SELECT pg_sleep({seconds});\nCOMMIT;\n")
        self.proc.stdin.close()
        wait_until(lambda: self.proc.poll() is not None or stack.psql(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE a.application_name = 'outbox-lock' AND l.granted"
            "   AND l.relation = 'stepup.sms_outbox'::regclass AND l.mode = 'ExclusiveLock'",
            superuser=True) == [["1"]], timeout=10, what="the outbox locked")
        assert self.proc.poll() is None, self.proc.stderr.read()

    def wait(self):
        assert self.proc.wait(timeout=60) == 0, self.proc.stderr.read()


def sender_waiting_for_lock(stack, sender):
    """True once the sender's connection waits for a lock (its claim)."""
    rows = stack.psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = :'a'"
                      " AND wait_event_type = 'Lock'", superuser=True,
                      a=f"sender-{sender.name}")
    return rows == [["1"]]


def write_script(stack, name, body):
    """An executable shell script under $state/sender-tests (for the exec provider)."""
    path = stack.state_dir / "sender-tests" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def code_in(text):
    """The 6-digit code in a message text."""
    m = CODE_RE.search(text)
    assert m, f"no code in {text!r}"
    return m.group(1)


def verify(stack, flow, code, token=None):
    """POST /stepup/challenges/otp/SMS/verify with the code: the response."""
    return stack.request("POST", "/stepup/challenges/otp/SMS/verify",
                         api_key=flow.programme.api_key, token=token or flow.token,
                         body={"verificationCode": code})


def read_log(path):
    p = Path(path)
    return p.read_text(errors="replace") if p.exists() else ""
