"""Integration tests of stepup: real HTTP through a real web server
(STEPUP_HTTPD: lighttpd, the default, apache-fcgid or apache-proxy) to
stepup-fcgi, against a throwaway PostgreSQL cluster.

The session-scoped fixture ``stack`` runs ``tools/stack up`` on two free
loopback ports with a fresh state directory under the build directory
($STEPUP_BUILD_DIR/tests-var/<server>: its logs stay there after the run for
inspection) and always runs ``tools/stack down`` at the end.  With
STEPUP_PGBOUNCER=1 in the environment, stepup-fcgi reaches the database
through PgBouncer in transaction pooling mode (tools/stack's pgbouncer part):
`STEPUP_PGBOUNCER=1 make check STEPUP_HTTPDS=lighttpd` runs the whole suite
so.  ``own_stack(name, **settings)`` brings up a stack of its own for a
test (test_65's PgBouncer, test_92's Patroni).  It is also the toolbox of
the tests:

    stack.ctl(*args)                 run stepupctl (as stepup_operator), return its JSON
    stack.make_programme(**opts)     a new programme with an API key
    stack.make_user(programme, ...)  a new user (enrolled for SMS by default)
    stack.login(api_key, email, password) -> token
    stack.request(method, path, ...) -> Response(status, headers, json)
    stack.issue(api_key, token, ...) POST /stepup/challenges/otp/{channel}
    stack.verify(api_key, token, code, ...)  POST .../otp/{channel}/verify
    stack.enrol(api_key, token, ...), stack.enrol_verify(api_key, token, code, ...),
    stack.factors(api_key, token)    the /authentication_factors endpoints
    stack.page(path, token)          plain HTTP (the legacy application) -> (status, headers, text)
    stack.psql(sql, **vars)          rows of a query (as the owner, a superuser)
    stack.part(command, *parts)      tools/stack up|down of some of the stack's parts

Every answer stepup gives request() and page() is validated against
docs/openapi.yaml (openapi_check.py): its status must be documented for the
operation, and its body must match the documented schema.

Every test creates its own programme, so tests do not interfere.  Every
secret the run uses (passwords, API keys, tokens, OTP codes) is recorded in
``stack.secrets``; the last test checks that none of them is in any table,
data file or log.
"""

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import openapi_check

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("STEPUP_BUILD_DIR") or ROOT / "build").resolve()
STACK = ROOT / "tools" / "stack"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
SANDBOX_CODE = "123456"
NO_BODY = object()  # default of the verify helpers: {"verificationCode": code}
# Fast scrypt for test users (the hash records its own parameters).
SCRYPT_LOG2N = "10"
# Throwaway cluster: durability is not needed.
PG_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# Numbers as libphonenumber's numbering-plan data classifies them.
GB_MOBILE = "+447400123456"
GG_MOBILE = "+447911123456"  # +44 but Guernsey: 7911 1xx is a GG mobile range
GB_LANDLINE = "+442079460000"
MT_MOBILE = "+35699123456"


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (held open together while chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def process_user(pid):
    """The name of the user a process runs as."""
    return pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name


def as_user(user, cmd):
    """cmd run as user when we are root (what tools/stack does)."""
    if os.geteuid() == 0 and user != "root":
        return ["runuser", "-u", user, "--"] + list(cmd)
    return list(cmd)


def read_env_file(path):
    """The variables a file of `export NAME=VALUE` lines sets, as the shell
    reads it (the file is sourced by bash; no second parser of it here)."""
    out = subprocess.run(["bash", "-c", 'set -a; . "$1"; env -0', "read-env", str(path)],
                         capture_output=True, check=True, env={"PATH": os.environ["PATH"]}).stdout
    values = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    names = re.findall(r"^export ([A-Z_][A-Z0-9_]*)=", Path(path).read_text(), re.M)
    return {name: values[name] for name in names}


def config_value(program, conf, key):
    """A value of a configuration file as the program itself reads it
    (--get-config): the keys, for instance."""
    p = subprocess.run([str(BUILD / "src" / program.split("-")[1] / program), "-c", str(conf),
                        "--get-config", key], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.rstrip("\n")


def hkdf(root, info, length=32):
    """HKDF-SHA256(root, no salt, info), as crypto_hkdf_sha256."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=info.encode()).derive(root)


class KeyRing:
    """A model of an otp_key or outbox_key value (crypto_keyring_parse): keys
    newest first, each "ID:HEX" or "HEX" alone, whose id is then derived
    from it; the key without an id is the one of rows of before key ids."""

    def __init__(self, text):
        self.keys = []  # (id, named, raw)
        for item in text.replace(",", " ").split():
            named = ":" in item
            kid, hexkey = item.split(":", 1) if named else (None, item)
            raw = bytes.fromhex(hexkey)
            self.keys.append((kid if named else hkdf(raw, "stepup key-id v1", 4).hex(), named, raw))

    @property
    def newest(self):
        return self.keys[0]

    def find(self, kid):
        """(id, named, raw) of a key id; None or "": the key without an id."""
        for k in self.keys:
            if (not kid and not k[1]) or (kid and k[0] == kid):
                return k
        return None

    @staticmethod
    def generate(kid):
        """A fresh "ID:HEX"."""
        return f"{kid}:{os.urandom(32).hex()}"


def seal_code(ring, challenge_id, to_number, code):
    """Seal code as stepup-fcgi does: under the newest key of ring, derived
    for sealing, AAD = the challenge id's 16 bytes || the number.  Returns
    (key id, nonce || ciphertext || tag)."""
    kid, _, raw = ring.newest
    nonce = os.urandom(12)
    aad = uuid.UUID(str(challenge_id)).bytes + to_number.encode()
    return kid, nonce + AESGCM(hkdf(raw, "stepup outbox-seal v1")).encrypt(nonce, code.encode(), aad)


class Response:
    """An HTTP answer: status, headers (case-insensitive) and the parsed JSON
    body (None when the body is empty or not JSON, as /metrics' text is).
    Unpacks as (status, headers, json)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        is_json = headers.get_content_type() == "application/json"
        self.json = json.loads(raw) if raw and is_json else None

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    @property
    def ref(self):
        return self.headers.get("request-ref")

    def __repr__(self):
        return f"Response({self.status}, {self.raw[:300]!r})"


@dataclass
class Programme:
    id: str
    api_key: str
    name: str


@dataclass
class User:
    id: str
    identity_id: str
    email: str
    password: str
    mobile: str
    programme: Programme = field(repr=False)


class Stack:
    """A running stack and the helpers to drive it."""

    def __init__(self, state_dir, env):
        self.state_dir = Path(state_dir)
        self.env = env
        self.url = env["STEPUP_URL"]
        m = re.match(r"^http://([0-9.]+):([0-9]+)$", self.url)
        assert m, f"unexpected STEPUP_URL {self.url}"
        self.host, self.port = m.group(1), int(m.group(2))
        self.ctl_path = env["STEPUPCTL"]
        # PGUSER is the operator (stepupctl); psql runs as the owner.  Under
        # Patroni, PGHOST and PGPORT list both nodes and libpq takes the
        # primary (PGTARGETSESSIONATTRS).
        self.pg_env = {k: env[k] for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE",
                                           "PGTARGETSESSIONATTRS") if k in env}
        self.pg_owner = env["STEPUP_PG_OWNER"]
        self.pg_superuser = env["STEPUP_PG_SUPERUSER"]
        self.conf_path = self.state_dir / "stepup.conf"
        self._keys_of = None  # the (inode, mtime, size) of stepup.conf its keys were read from
        self.secrets = set()  # passwords, API keys, tokens
        self.codes = set()  # OTP codes seen in the outbox
        self._lock = threading.Lock()

    def _keys(self):
        """The key rings of stepup.conf, read again when the file changed
        (a rotation test rewrites it)."""
        st = self.conf_path.stat()
        if self._keys_of != (st.st_ino, st.st_mtime_ns, st.st_size):
            self._rings = (KeyRing(config_value("stepup-fcgi", self.conf_path, "otp_key")),
                           KeyRing(config_value("stepup-fcgi", self.conf_path, "outbox_key")))
            self._keys_of = (st.st_ino, st.st_mtime_ns, st.st_size)
        return self._rings

    @property
    def otp_ring(self):
        return self._keys()[0]

    @property
    def outbox_ring(self):
        return self._keys()[1]

    @property
    def otp_key(self):
        """The bytes of the newest otp_key."""
        return self.otp_ring.newest[2]

    @property
    def outbox_key(self):
        """The bytes of the newest outbox_key."""
        return self.outbox_ring.newest[2]

    # -- secrets ---------------------------------------------------------
    def remember(self, *values):
        with self._lock:
            self.secrets.update(v for v in values if v)

    def remember_code(self, code):
        with self._lock:
            self.codes.add(code)

    # -- processes -------------------------------------------------------
    def subprocess_env(self, **extra):
        env = dict(os.environ)
        env.update(self.pg_env)
        env.update(extra)
        return env

    def ctl_run(self, *args):
        """Run stepupctl; return the CompletedProcess (no check)."""
        args = [str(a) for a in args]
        if "--password" in args:
            self.remember(args[args.index("--password") + 1])
        return subprocess.run([self.ctl_path] + args, capture_output=True, text=True,
                              env=self.subprocess_env(STEPUP_SCRYPT_LOG2N=SCRYPT_LOG2N),
                              timeout=60)

    def ctl(self, *args):
        """Run stepupctl and return its JSON output (None when it printed nothing)."""
        p = self.ctl_run(*args)
        if p.returncode != 0:
            raise AssertionError(f"stepupctl {' '.join(map(str, args))} failed "
                                 f"({p.returncode}): {p.stderr.strip()}")
        doc = json.loads(p.stdout) if p.stdout.strip() else None
        if isinstance(doc, dict):
            self.remember(doc.get("apiKey"), doc.get("token"))
        return doc

    def psql(self, sql, superuser=False, **variables):
        """Rows (lists of text, NULL as '') of a query run as the schema's
        owner, or as the cluster's bootstrap superuser (superuser=True).
        Values are passed as psql variables: write :'name' in the SQL."""
        cmd = [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f",
               "-v", "ON_ERROR_STOP=1"]
        for name, value in variables.items():
            cmd += ["-v", f"{name}={value}"]
        cmd += ["-f", "-"]
        p = subprocess.run(cmd, input=sql, capture_output=True, text=True,
                           env=self.subprocess_env(
                               PGUSER=self.pg_superuser if superuser else self.pg_owner),
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql failed: {p.stderr.strip()}\n{sql}")
        return [line.split("\x1f") for line in p.stdout.splitlines() if line != ""]

    def part(self, command, *parts, check=True):
        """tools/stack up|down PART... on this stack (the same parts `up` runs)."""
        p = _run_stack(command, self.stack_env, *parts)
        if check and p.returncode != 0:
            raise AssertionError(f"tools/stack {command} {' '.join(parts)} failed "
                                 f"({p.returncode}):\n{p.stdout}\n{p.stderr}")
        return p

    def fcgi_supervisor_pid(self):
        """The pid of the stand-alone stepup-fcgi's supervisor (lighttpd,
        apache-proxy: `--daemon`, whose pid file names it), None when the
        web server runs stepup-fcgi (apache-fcgid)."""
        standalone = self.state_dir / "run" / "fcgi" / "stepup-fcgi.pid"
        return int(standalone.read_text().split()[0]) if standalone.exists() else None

    def fcgi_pids(self):
        """pids of the stepup-fcgi processes serving the stack: those the web
        server spawned (Apache's mod_fcgid), or the one the stand-alone
        stepup-fcgi's supervisor runs (lighttpd, apache-proxy; none for the
        moment while it starts a new one)."""
        children = {}
        for line in subprocess.run(["ps", "-e", "-o", "pid=,ppid=,comm="], capture_output=True,
                                   text=True).stdout.splitlines():
            pid, ppid, comm = line.split(None, 2)
            children.setdefault(int(ppid), []).append((int(pid), comm.strip()))
        supervisor = self.fcgi_supervisor_pid()
        if supervisor is not None:
            return sorted(pid for pid, _ in children.get(supervisor, []))
        server = self.state_dir / "run" / "httpd" / "apache.pid"
        found, todo = [], [int(server.read_text().split()[0])]
        while todo:
            for pid, comm in children.get(todo.pop(), []):
                todo.append(pid)
                if comm != "apache2":  # Apache's own processes
                    found.append(pid)
        return sorted(found)

    def restart_fcgi(self):
        """Restart stepup-fcgi, so that it reads its changed configuration:
        the stand-alone process (lighttpd, apache-proxy) with its own
        command line, as its own user, else the web server that runs it."""
        pid_file = self.state_dir / "run" / "fcgi" / "stepup-fcgi.pid"
        if not pid_file.exists():
            self.part("down", "httpd")
            self.part("up", "httpd")
            return
        pid = int(pid_file.read_text().split()[0])
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        user = process_user(pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists():
            assert time.monotonic() < deadline, f"stepup-fcgi (pid {pid}) did not stop"
            time.sleep(0.05)
        with open(self.fcgi_log(), "ab") as log:
            subprocess.run(as_user(user, [c.decode() for c in cmd]), check=True, cwd="/",
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60)

    def fcgi_log(self):
        """The log stepup-fcgi writes (its standard error): its own file, or
        Apache's error log when mod_fcgid runs it."""
        name = "apache-error.log" if self.env.get("STEPUP_HTTPD") == "apache-fcgid" \
            else "stepup-fcgi.log"
        return self.state_dir / "log" / name

    # -- HTTP ------------------------------------------------------------
    def request(self, method, path, headers=None, body=None, *, api_key=None, token=None,
                idem=None, timeout=30):
        """One HTTP request on a new connection.  body: dict/list (sent as
        JSON), str/bytes (sent as is) or None.  Checks what every answer
        must have: a request-ref header holding a UUID, and what
        docs/openapi.yaml documents for the operation (openapi_check.py):
        the status, the content type and the body."""
        hdrs = {}
        if api_key is not None:
            hdrs["api-key"] = api_key
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if idem is not None:
            hdrs["idempotency-ref"] = idem
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
            status, msg = r.status, r.msg
        finally:
            conn.close()
        ref = msg.get("request-ref")
        assert ref is not None, f"{method} {path} -> {status}: no request-ref header"
        assert UUID_RE.match(ref), f"request-ref is not a UUID: {ref!r}"
        openapi_check.check(method, path, status, msg, raw)
        if status == 204:
            assert raw == b"", f"204 with a body: {raw[:200]!r}"
        resp = Response(status, msg, raw.decode("utf-8"))
        if isinstance(resp.json, dict) and isinstance(resp.json.get("token"), str):
            self.remember(resp.json["token"])
        return resp

    def issue(self, api_key, token, channel="SMS", *, idem=None, headers=None, body=None):
        return self.request("POST", f"/stepup/challenges/otp/{channel}", headers, body,
                            api_key=api_key, token=token, idem=idem)

    def verify(self, api_key, token, code=SANDBOX_CODE, channel="SMS", *, idem=None,
               headers=None, body=NO_BODY):
        """POST /stepup/challenges/otp/{channel}/verify with {"verificationCode": code},
        or with body instead when given (None: an empty body)."""
        if body is NO_BODY:
            body = {"verificationCode": code}
        return self.request("POST", f"/stepup/challenges/otp/{channel}/verify", headers,
                            "" if body is None else body, api_key=api_key, token=token,
                            idem=idem)

    def enrol(self, api_key, token, channel="SMS", *, idem=None, headers=None, body=None):
        """POST /authentication_factors/otp/{channel}: send an enrolment code."""
        return self.request("POST", f"/authentication_factors/otp/{channel}", headers,
                            "" if body is None else body, api_key=api_key, token=token,
                            idem=idem)

    def enrol_verify(self, api_key, token, code=SANDBOX_CODE, channel="SMS", *, idem=None,
                     headers=None, body=NO_BODY):
        """POST /authentication_factors/otp/{channel}/verify (body as for verify)."""
        if body is NO_BODY:
            body = {"verificationCode": code}
        return self.request("POST", f"/authentication_factors/otp/{channel}/verify", headers,
                            "" if body is None else body, api_key=api_key, token=token,
                            idem=idem)

    def factors(self, api_key, token):
        """GET /authentication_factors."""
        return self.request("GET", "/authentication_factors", api_key=api_key, token=token)

    def page(self, path, token=None, headers=None, method="GET", body=None, timeout=30):
        """A plain HTTP request (e.g. to the legacy application behind the
        step-up gate), without the API's checks but for stepup's own answers
        (the gate's refusals), which are validated against docs/openapi.yaml:
        (status, headers, text)."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        openapi_check.check(method, path, r.status, r.msg, raw)
        return r.status, r.msg, raw.decode("utf-8", "replace")

    # -- fixtures of data ------------------------------------------------
    def make_programme(self, *, sandbox=True, sms=True, countries=None, retry_seconds=None,
                       issue_limit=None, verify_attempts=None, expiry_seconds=None,
                       session_ttl=None, name=None, gates="legacy", limits=None,
                       extra=()):
        """A new programme with its own API key.  Defaults: sandbox, SMS on,
        the stack's gate "legacy" listed, every rate limit at its default;
        limits: {"NAME": "COUNT/PERIOD" | "off"}; extra: more options."""
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        args = ["programme", "create", "--name", name]
        if sandbox:
            args.append("--sandbox")
        if not sms:
            args.append("--no-sms")
        for opt, value in (("--countries", countries), ("--retry-seconds", retry_seconds),
                           ("--issue-limit", issue_limit),
                           ("--verify-attempts", verify_attempts),
                           ("--expiry-seconds", expiry_seconds),
                           ("--session-ttl", session_ttl)):
            if value is not None:
                args += [opt, str(value)]
        if gates is not None:
            args += ["--gates", gates]
        for limit, value in (limits or {}).items():
            args += ["--limit", f"{limit}={value}"]
        args += list(extra)
        pid = self.ctl(*args)["id"]
        key = self.ctl("apikey", "create", "--programme", pid)["apiKey"]
        return Programme(id=pid, api_key=key, name=name)

    def make_user(self, programme, mobile=GB_MOBILE, enrol=True, *, email=None, password=None,
                  role=None, identity=None):
        """A new user of the programme (ROOT of a new identity unless identity
        is given), SMS factor enrolled unless enrol=False."""
        email = email or f"u-{uuid.uuid4().hex[:12]}@example.com"
        password = password or f"pw-{uuid.uuid4().hex}"
        args = ["user", "create", "--programme", programme.id, "--email", email,
                "--password", password]
        if mobile is not None:
            args += ["--mobile", mobile]
        if role is not None:
            args += ["--role", role]
        if identity is not None:
            args += ["--identity", identity]
        doc = self.ctl(*args)
        user = User(id=doc["userId"], identity_id=doc["identityId"], email=email,
                    password=password, mobile=mobile, programme=programme)
        if enrol:
            self.ctl("user", "enrol", "--user", user.id, "--channel", "SMS")
        return user

    def login_response(self, api_key, email, password):
        return self.request("POST", "/login_with_password", api_key=api_key,
                            body={"email": email, "password": {"value": password}})

    def login(self, api_key, email, password):
        """Log in; the session token."""
        r = self.login_response(api_key, email, password)
        assert r.status == 200, r
        return r.json["token"]

    def session(self, user):
        """A new session of user: its token."""
        return self.login(user.programme.api_key, user.email, user.password)

    def impersonate(self, user):
        return self.ctl("token", "impersonate", "--user", user.id)["token"]

    # -- database views --------------------------------------------------
    @staticmethod
    def token_hash_hex(token):
        return hashlib.sha256(token.encode()).hexdigest()

    def session_id(self, token):
        rows = self.psql("SELECT id FROM stepup.sessions WHERE token_hash = decode(:'h', 'hex')",
                         h=self.token_hash_hex(token))
        assert len(rows) == 1, rows
        return rows[0][0]

    def challenges(self, token):
        """The challenges of a session, oldest first, as dicts."""
        cols = ["id", "status", "sandbox", "channel", "purpose", "mobile", "code_hash",
                "expiry", "request_ref", "ended"]
        rows = self.psql(
            "SELECT c.id, c.status, c.sandbox, c.channel, c.purpose, coalesce(c.mobile, ''),"
            "       encode(c.code_hash, 'hex'),"
            "       extract(epoch FROM c.expires_at - c.created_at)::int,"
            "       coalesce(c.request_ref, ''), (c.ended_at IS NOT NULL)"
            "  FROM stepup.challenges c JOIN stepup.sessions s ON s.id = c.session_id"
            " WHERE s.token_hash = decode(:'h', 'hex')"
            " ORDER BY c.created_at, c.id", h=self.token_hash_hex(token))
        return [dict(zip(cols, r)) for r in rows]

    def outbox(self, programme):
        """The outbox rows of a programme, oldest first, with the code opened."""
        cols = ["id", "challenge_id", "to_number", "body_template", "status", "sealed", "key_id"]
        rows = self.psql(
            "SELECT id, challenge_id, to_number, coalesce(body_template, ''), status,"
            "       coalesce(encode(code_sealed, 'hex'), ''), coalesce(key_id, '')"
            "  FROM stepup.sms_outbox WHERE programme_id = :'p'"
            " ORDER BY created_at, id", p=programme.id)
        out = []
        for r in rows:
            row = dict(zip(cols, r))
            row["code"] = self.open_code(row["challenge_id"], row["sealed"], row["to_number"],
                                         row["key_id"])
            out.append(row)
        return out

    def open_code(self, challenge_id, sealed_hex, to_number, key_id):
        """Decrypt an outbox code: nonce(12) || ciphertext || tag(16) under the
        outbox key of key_id, derived for sealing, AAD = the challenge id's 16
        bytes || the number; a row of before key ids (key_id "") under the key
        without an id as it is, AAD = the challenge id alone."""
        blob = bytes.fromhex(sealed_hex)
        _, _, raw = self.outbox_ring.find(key_id)
        aad = uuid.UUID(challenge_id).bytes
        key = raw if not key_id else hkdf(raw, "stepup outbox-seal v1")
        if key_id:
            aad += to_number.encode()
        code = AESGCM(key).decrypt(blob[:12], blob[12:], aad).decode("ascii")
        self.remember_code(code)
        return code

    def code_hash(self, token, code, legacy=False):
        """What the database must store for a code: HMAC-SHA256(K, SHA-256(session
        token) || code) (see crypto_otp_hash), K derived for OTP hashes from the
        newest otp_key; legacy: K the key without an id as it is (before key ids)."""
        if legacy:
            key = self.otp_ring.find(None)[2]
        else:
            key = hkdf(self.otp_key, "stepup otp-hash v1")
        return hmac.new(key, hashlib.sha256(token.encode()).digest() + code.encode("ascii"),
                        hashlib.sha256).hexdigest()


def _run_stack(command, env, *parts, timeout=600):
    return subprocess.run([str(STACK), command, *parts], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def _scan_for_tool_errors(state_dir):
    """Errors reported by valgrind or the sanitizers into the state's logs."""
    problems = []
    logdir = state_dir / "log"
    for f in sorted(logdir.glob("valgrind/valgrind.*.log")):
        text = f.read_text(errors="replace")
        if re.search(r"ERROR SUMMARY: [1-9]", text):
            problems.append(f"{f}:\n{text[-4000:]}")
    for f in sorted(logdir.glob("*.log")):
        if f.name.startswith("valgrind."):
            continue
        text = f.read_text(errors="replace")
        for pat in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            i = text.find(pat)
            if i >= 0:
                problems.append(f"{f}: {pat}\n{text[max(0, i - 200):i + 3000]}")
                break
    return problems


# The ports tools/stack may use, by the variable it reads each from: the
# tests give every stack free ones (a part that is not brought up ignores
# its own).
STACK_PORT_VARS = ("STEPUP_PG_PORT", "STEPUP_HTTP_PORT", "STEPUP_AUTHORIZER_PORT",
                   "STEPUP_PGBOUNCER_PORT", "STEPUP_PG_PORT2", "STEPUP_ETCD_PORT",
                   "STEPUP_ETCD_PEER_PORT", "STEPUP_PATRONI_PORT", "STEPUP_PATRONI_PORT2")


def stack_ports():
    """A free loopback port for each of STACK_PORT_VARS."""
    return dict(zip(STACK_PORT_VARS, map(str, free_ports(len(STACK_PORT_VARS)))))


@contextlib.contextmanager
def own_stack(name, **settings):
    """A stack of its own beside the session's, as test_20 runs one: tools/stack
    up with settings (its environment: STEPUP_PGBOUNCER="1", STEPUP_PG_HA=
    "patroni", STEPUP_SMS_GATEWAY_URL...), on free ports, state in
    $STEPUP_BUILD_DIR/tests-var-<name> (kept for its logs).  Yields its Stack
    (stack.stack_env: the environment it was brought up with); tools/stack
    down always follows, and must succeed, and then no sanitizer or valgrind
    error may be in its logs."""
    state_dir = BUILD / f"tests-var-{name}"
    env = dict(os.environ)
    env.update(STEPUP_BUILD_DIR=str(BUILD), STEPUP_STATE_DIR=str(state_dir), STEPUP_DEMO="0",
               STEPUP_PG_OPTIONS=PG_OPTIONS)
    env.update(settings)
    if state_dir.exists():
        _run_stack("down", env)
        shutil.rmtree(state_dir)
    env.update(stack_ports())
    try:
        up = _run_stack("up", env)
        if up.returncode != 0:
            raise AssertionError(f"tools/stack up ({name}) failed ({up.returncode}):\n"
                                 f"{up.stdout}\n{up.stderr}")
        s = Stack(state_dir, read_env_file(state_dir / "stack.env"))
        s.stack_env = env
        yield s
    finally:
        down = _run_stack("down", env)
    assert down.returncode == 0, f"tools/stack down ({name}) failed:\n{down.stderr}"
    problems = _scan_for_tool_errors(state_dir)
    assert not problems, "valgrind / sanitizer errors:\n" + "\n\n".join(problems)


@pytest.fixture(scope="session")
def stack():
    """The stack of this test session (see the module docstring)."""
    state_dir = BUILD / "tests-var" / os.environ.get("STEPUP_HTTPD", "lighttpd")
    base_env = dict(os.environ)
    # No stack sender: tests read their outbox rows before anything sends
    # them; the sender tests start their own (sender_fixtures.py).
    base_env.update(STEPUP_BUILD_DIR=str(BUILD), STEPUP_STATE_DIR=str(state_dir),
                    STEPUP_DEMO="0", STEPUP_PG_OPTIONS=PG_OPTIONS, STEPUP_SENDER="0")
    if state_dir.exists():
        # A previous run's leftovers: stop what may still run there, then wipe.
        _run_stack("down", base_env)
        shutil.rmtree(state_dir)
    # STEPUP_HTTPD (lighttpd, apache-fcgid, apache-proxy) passes through
    # from the caller: tools/test runs the suite once per web server.  So
    # does STEPUP_PGBOUNCER: with 1, stepup-fcgi reaches the database
    # through PgBouncer in transaction pooling mode (the sender, stepupctl
    # and psql go to PostgreSQL directly).
    env = dict(base_env, **stack_ports())
    try:
        up = _run_stack("up", env)
        if up.returncode != 0:
            pytest.fail(f"tools/stack up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}",
                        pytrace=False)
        s = Stack(state_dir, read_env_file(state_dir / "stack.env"))
        s.stack_env = env
        yield s
    finally:
        down = _run_stack("down", base_env)
        if down.returncode != 0:
            print(f"tools/stack down failed:\n{down.stdout}\n{down.stderr}")
    problems = _scan_for_tool_errors(state_dir)
    if problems:
        pytest.fail("valgrind / sanitizer errors:\n" + "\n\n".join(problems), pytrace=False)
    if down.returncode != 0:
        pytest.fail(f"tools/stack down failed:\n{down.stderr}", pytrace=False)
