"""The audit log's seals: a sealer in stepup-sender signs what was written,
`stepupctl audit verify` (as stepup_auditor, with the public key alone)
proves it untouched or names the first event altered, inserted or
removed; old months leave whole, and verification still passes.

A superuser can do anything to a table, so the tampering here is done as
one (session_replication_role = replica switches the append-only trigger
off); every test puts back what it changed, so that the log verifies
again for the next."""

import json
import re
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import PG_BIN
from sender_fixtures import SenderProcess, wait_until

COLUMNS = ("seq, at, xact_id, event, programme_id, identity_id, user_id, session_id, "
           "challenge_id, request_ref, client_addr, user_agent, actor, detail")


def write_key(path, key):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def write_public(path, key):
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))


@pytest.fixture(scope="module")
def keys(stack):
    d = stack.state_dir / "audit-test"
    d.mkdir(exist_ok=True)
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    write_key(d / "key.pem", key)
    write_public(d / "key.pub.pem", key)
    write_public(d / "other.pub.pem", other)
    return d


class Sealer:
    """A stepup-sender that seals (provider log: it also sends what is due)."""

    def __init__(self, stack, keys):
        self.stack, self.keys = stack, keys
        self.proc = None

    def start(self):
        self.proc = SenderProcess(self.stack, "sealer", {
            "provider": "log", "poll_interval_ms": "200", "log_level": "info",
            "audit_key_file": str(self.keys / "key.pem"), "audit_seal_interval_ms": "200",
        }).start()
        return self

    def stop(self):
        if self.proc is not None and self.proc.running():
            assert self.proc.terminate() == 0, self.proc.log()[-2000:]
        self.proc = None


@pytest.fixture(scope="module")
def sealer(stack, keys):
    s = Sealer(stack, keys).start()
    yield s
    s.stop()


def verify(stack, *args, key="key.pub.pem", keys=None):
    """stepupctl audit verify as stepup_auditor: (exit status, JSON, stderr)."""
    cmd = [stack.ctl_path, "audit", "verify"] + list(args)
    if key is not None:
        cmd += ["--public-key", str(keys / key)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=stack.subprocess_env(PGUSER="stepup_auditor"))
    doc = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, doc, p.stderr


def sealed_verify(stack, keys):
    """Wait until every event so far is sealed; the verify result then."""
    last = {}

    def done():
        rc, doc, err = verify(stack, keys=keys)
        last.update(rc=rc, doc=doc, err=err)
        return rc == 0 and doc["unsealed"] == 0
    wait_until(done, timeout=20, interval=0.2, what=f"everything sealed ({last})")
    return last["doc"]


def as_superuser(stack, sql):
    """SQL as the cluster's superuser with the table triggers off."""
    return stack.psql("SET session_replication_role = replica;\n" + sql, superuser=True)


def flow(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    assert stack.verify(p.api_key, token, code="000000").status == 409
    assert stack.verify(p.api_key, token).status == 204
    return p, u, token


def last_event(stack):
    row = stack.psql(f"SELECT {COLUMNS.replace('at,', 'at::text,')} FROM stepup.audit_log "
                     "WHERE event <> 'audit.purged' ORDER BY seq DESC LIMIT 1")[0]
    return dict(zip([c.strip() for c in COLUMNS.split(",")], row))


def test_every_event_is_sealed_within_seconds_and_verifies(stack, keys, sealer):
    flow(stack)
    written = time.monotonic()
    doc = sealed_verify(stack, keys)
    took = time.monotonic() - written
    print(f"sealed in {took:.2f} s: {doc}")
    assert took < 10
    assert doc["verified"] is True and doc["seals"] >= 1 and doc["events"] >= 4, doc
    n = int(stack.psql("SELECT count(*) FROM stepup.audit_log")[0][0])
    assert doc["events"] + doc["purged"] == n, (doc, n)
    # Each seal is in the sender's log, outside the database.
    assert "audit: seal 1 covers" in sealer.proc.log()


def test_the_log_is_append_only_for_every_role(stack):
    for sql in ("UPDATE stepup.audit_log SET event = 'x'", "DELETE FROM stepup.audit_log",
                "TRUNCATE stepup.audit_log", "UPDATE stepup.audit_seals SET key_id = 'x'",
                "DELETE FROM stepup.audit_seals"):
        with pytest.raises(AssertionError, match="append-only"):
            stack.psql(sql, superuser=True)  # even the superuser: the trigger refuses
    for role in ("stepup_app", "stepup_sender", "stepup_operator", "stepup_auditor"):
        p = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-c",
                            "UPDATE stepup.audit_log SET event = 'x'"],
                           capture_output=True, text=True,
                           env=stack.subprocess_env(PGUSER=role), timeout=30)
        assert p.returncode != 0 and "permission denied" in p.stderr, (role, p.stderr)


def test_an_altered_event_is_named(stack, keys, sealer):
    flow(stack)
    sealed_verify(stack, keys)
    e = last_event(stack)
    as_superuser(stack, "UPDATE stepup.audit_log SET detail = detail || '{\"x\": 1}' "
                        "WHERE seq = :'seq'".replace(":'seq'", e["seq"]))
    try:
        rc, doc, err = verify(stack, keys=keys)
        assert rc == 1 and doc["verified"] is False, (rc, doc, err)
        assert doc["event"] == int(e["seq"]) and "altered" in doc["problem"], doc
        assert f"event {e['seq']}" in err
    finally:
        as_superuser(stack, f"UPDATE stepup.audit_log SET detail = '{e['detail']}'::jsonb "
                            f"WHERE seq = {e['seq']}")
    assert verify(stack, keys=keys)[0] == 0


def test_a_removed_event_is_named(stack, keys, sealer):
    flow(stack)
    sealed_verify(stack, keys)
    seq = last_event(stack)["seq"]
    as_superuser(stack, f"CREATE TABLE public.saved_event AS SELECT * FROM stepup.audit_log "
                        f"WHERE seq = {seq}; DELETE FROM stepup.audit_log WHERE seq = {seq}")
    try:
        rc, doc, err = verify(stack, keys=keys)
        assert rc == 1 and doc["event"] == int(seq) and "removed" in doc["problem"], (doc, err)
    finally:
        as_superuser(stack, "INSERT INTO stepup.audit_log SELECT * FROM public.saved_event; "
                            "DROP TABLE public.saved_event")
    assert verify(stack, keys=keys)[0] == 0


def test_an_inserted_event_is_named(stack, keys, sealer):
    flow(stack)
    sealed_verify(stack, keys)
    xact = stack.psql("SELECT xact_from FROM stepup.audit_seals ORDER BY seal_no DESC LIMIT 1")[0][0]
    seq = as_superuser(stack, "INSERT INTO stepup.audit_log (event, xact_id, detail) "
                              f"VALUES ('login.succeeded', '{xact}', '{{}}') RETURNING seq")[0][0]
    try:
        rc, doc, err = verify(stack, keys=keys)
        assert rc == 1 and doc["event"] == int(seq) and "inserted" in doc["problem"], (doc, err)
    finally:
        as_superuser(stack, f"DELETE FROM stepup.audit_log WHERE seq = {seq}")
    assert verify(stack, keys=keys)[0] == 0


def test_an_altered_or_removed_seal_is_named(stack, keys, sealer):
    flow(stack)
    sealed_verify(stack, keys)
    flow(stack)
    sealed_verify(stack, keys)
    no = int(stack.psql("SELECT max(seal_no) - 1 FROM stepup.audit_seals")[0][0])
    assert no >= 1
    saved = "CREATE TABLE public.saved_seal AS SELECT * FROM stepup.audit_seals WHERE seal_no = %d" % no
    restore = ("DELETE FROM stepup.audit_seals WHERE seal_no = %d; INSERT INTO stepup.audit_seals "
               "SELECT * FROM public.saved_seal; DROP TABLE public.saved_seal" % no)
    # A forged seal: a list the sealer never signed.
    as_superuser(stack, saved + "; UPDATE stepup.audit_seals SET digest = sha256(digest) "
                                "WHERE seal_no = %d" % no)
    try:
        rc, doc, err = verify(stack, keys=keys)
        assert rc == 1 and doc["seal"] == no and "altered" in doc["problem"], (doc, err)
    finally:
        as_superuser(stack, restore)
    assert verify(stack, keys=keys)[0] == 0
    # A seal removed from the middle of the chain.
    as_superuser(stack, saved + "; DELETE FROM stepup.audit_seals WHERE seal_no = %d" % no)
    try:
        rc, doc, err = verify(stack, keys=keys)
        assert rc == 1 and f"seal {no} was removed" in doc["problem"], (doc, err)
    finally:
        as_superuser(stack, restore.replace("DELETE FROM stepup.audit_seals WHERE seal_no = %d; " % no, ""))
    assert verify(stack, keys=keys)[0] == 0


def test_only_the_right_public_key_verifies(stack, keys, sealer):
    flow(stack)
    sealed_verify(stack, keys)
    rc, doc, err = verify(stack, key="other.pub.pem", keys=keys)
    assert rc == 1 and "signature does not verify" in doc["problem"], (doc, err)
    rc, doc, err = verify(stack, key=None, keys=keys)
    assert rc == 2 and "--public-key" in err and doc is None
    # The private key verifies too (it holds the public half); garbage does not load.
    assert verify(stack, key="key.pem", keys=keys)[0] == 0
    (keys / "junk.pem").write_text("not a key\n")
    rc, doc, err = verify(stack, key="junk.pem", keys=keys)
    assert rc == 1 and "no Ed25519" in err


def test_a_window_verifies_only_its_seals(stack, keys, sealer):
    flow(stack)
    everything = sealed_verify(stack, keys)
    since = stack.psql("SELECT (now() - interval '1 second')::text")[0][0]
    time.sleep(1.2)
    flow(stack)
    sealed_verify(stack, keys)
    rc, doc, err = verify(stack, "--from", since, keys=keys)
    assert rc == 0, (doc, err)
    assert 1 <= doc["seals"] <= everything["seals"], (doc, everything)
    rc, doc, err = verify(stack, "--from", "1999-01-01", "--to", "1999-12-31", keys=keys)
    assert rc == 0 and doc["seals"] == 0 and doc["events"] == 0, (doc, err)
    rc, doc, err = verify(stack, "--from", "yesterday-ish", keys=keys)
    assert rc == 1 and doc is None and "yesterday-ish" in err, err


def old_month(stack, month, n):
    """A partition for an old month with n events in it (one transaction)."""
    stack.psql(f"CREATE TABLE IF NOT EXISTS stepup.audit_log_{month.replace('-', '_')} "
               f"PARTITION OF stepup.audit_log FOR VALUES FROM ('{month}-01') "
               f"TO (('{month}-01'::date + interval '1 month'))")
    stack.psql("INSERT INTO stepup.audit_log (at, event, detail) SELECT "
               f"'{month}-15'::timestamptz, 'login.failed', jsonb_build_object('i', i) "
               f"FROM generate_series(1, {n}) i")


def test_purge_drops_sealed_months_and_verification_still_passes(stack, keys, sealer):
    old_month(stack, "2020-01", 3)
    sealed_verify(stack, keys)
    # A month not sealed yet is refused, and nothing is dropped.
    sealer.stop()
    try:
        old_month(stack, "2020-02", 2)
        p = stack.ctl_run("audit", "purge", "--older-than", "30d")
        assert p.returncode == 1 and "not sealed yet" in p.stderr, p.stderr
        assert stack.psql("SELECT count(*) FROM stepup.audit_log WHERE at < '2020-03-01'")[0][0] == "5"
    finally:
        sealer.start()
    sealed_verify(stack, keys)
    p = stack.ctl_run("audit", "purge", "--older-than", "1h")
    assert p.returncode == 1 and "1d or more" in p.stderr, p.stderr

    doc = stack.ctl("audit", "purge", "--older-than", "30d")
    assert {d["partition"]: d["events"] for d in doc["dropped"]} == {
        "audit_log_2020_01": 3, "audit_log_2020_02": 2}, doc
    assert doc["events"] == 5 and doc["before"].startswith("2020-03-01"), doc
    after = sealed_verify(stack, keys)
    assert after["verified"] is True and after["purged"] == 5, after
    purged = stack.psql("SELECT detail->>'events', actor FROM stepup.audit_log "
                        "WHERE event = 'audit.purged' ORDER BY seq DESC LIMIT 1")
    assert purged == [["5", "stepup_operator"]]
    # Removing a kept event is still caught.
    seq = last_event(stack)["seq"]
    as_superuser(stack, f"CREATE TABLE public.saved_event AS SELECT * FROM stepup.audit_log "
                        f"WHERE seq = {seq}; DELETE FROM stepup.audit_log WHERE seq = {seq}")
    try:
        rc, doc, err = verify(stack, keys=keys)
        assert rc == 1 and "removed" in doc["problem"], doc
    finally:
        as_superuser(stack, "INSERT INTO stepup.audit_log SELECT * FROM public.saved_event; "
                            "DROP TABLE public.saved_event")


def test_a_forged_purge_excuses_nothing(stack, keys, sealer):
    """An audit.purged event written by hand (not by a purge, or claiming
    a horizon no purge can have) does not let sealed events go missing."""
    flow(stack)
    sealed_verify(stack, keys)
    seq = last_event(stack)["seq"]
    forged = as_superuser(stack, "INSERT INTO stepup.audit_log (event, detail) VALUES "
                                 "('audit.purged', '{\"before\": \"9999-01-01\"}') RETURNING seq")[0][0]
    as_superuser(stack, f"CREATE TABLE public.saved_event AS SELECT * FROM stepup.audit_log "
                        f"WHERE seq = {seq}; DELETE FROM stepup.audit_log WHERE seq = {seq}")
    try:
        def named():
            rc, doc, err = verify(stack, keys=keys)
            return doc if rc == 1 and doc["unsealed"] == 0 else None
        doc = wait_until(named, timeout=20, interval=0.2, what="the forged purge sealed")
        assert doc["event"] == int(seq) and "removed" in doc["problem"], doc
    finally:
        as_superuser(stack, "INSERT INTO stepup.audit_log SELECT * FROM public.saved_event; "
                            "DROP TABLE public.saved_event")
    # The forged event stays (the log is append-only), and excuses nothing.
    assert verify(stack, keys=keys)[0] == 0
    assert forged


def test_partitions_are_made_ahead(stack):
    rows = [json.loads(line) for line in
            stack.ctl_run("partitions", "--months", "5").stdout.splitlines()]
    months = [r["partition"] for r in rows if r["partition"] != "audit_log_default"]
    now = stack.psql("SELECT to_char(date_trunc('month', now()) + i * interval '1 month', "
                     "'\"audit_log_\"YYYY_MM') FROM generate_series(0, 5) i")
    for (name,) in now:
        assert name in months, (name, months)
    default = [r for r in rows if r["partition"] == "audit_log_default"]
    assert default == [{"partition": "audit_log_default", "from": None, "to": None, "rows": 0,
                        "created": False}], default
    assert stack.ctl_run("partitions", "--months", "999").returncode == 1


def test_the_auditor_reads_the_audit_views_and_no_secret(stack, keys, sealer):
    flow(stack)
    # A text that is sent (by the sealer's sender, provider log), so that
    # every view has rows.
    p = stack.make_programme(sandbox=False)
    u = stack.make_user(p)
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    wait_until(lambda: stack.psql("SELECT 1 FROM stepup.sms_outbox WHERE programme_id = :'p' "
                                  "AND status = 'SENT'", p=p.id), timeout=20, what="text sent")
    sealed_verify(stack, keys)
    env = stack.subprocess_env(PGUSER="stepup_auditor")

    def auditor(sql):
        return subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                               "-c", sql], capture_output=True, text=True, env=env, timeout=60)
    views = auditor("SELECT table_name FROM information_schema.views "
                    "WHERE table_schema = 'audit' ORDER BY 1").stdout.split()
    for v in ("challenges", "daily_summary", "events", "sms_deliveries", "seals"):
        assert v in views, views
    text = ""
    for v in views:
        p = auditor(f"SELECT to_jsonb(v)::text FROM audit.{v} v")
        assert p.returncode == 0, (v, p.stderr)
        assert p.stdout.strip(), f"audit.{v} is empty"
        text += p.stdout
    for secret in stack.secrets:
        assert secret not in text, "a secret is readable in the audit views"
    # Codes as whole numbers: six digits also occur inside hex and uuids,
    # and as the microseconds of a time or the decimals of a duration.
    numbers = set(re.findall(r"(?<![0-9A-Za-z.:])[0-9]{6}(?![0-9A-Za-z])", text))
    assert not numbers & stack.codes, "a code is readable in the audit views"
    for column in ("code_hash", "token_hash", "key_hash", "password_hash", "code_sealed",
                   "body_template"):
        assert f'"{column}"' not in text
    for sql in ("SELECT 1 FROM stepup.challenges LIMIT 1", "SELECT 1 FROM stepup.audit_log LIMIT 1",
                "SELECT 1 FROM stepup.users LIMIT 1", "INSERT INTO stepup.audit_log (event) VALUES ('x')"):
        p = auditor(sql)
        assert p.returncode != 0 and "permission denied" in p.stderr, (sql, p.stderr)
    summary = auditor("SELECT sum(issued), sum(verified) FROM audit.daily_summary").stdout.split("|")
    assert int(summary[0]) >= int(summary[1]) >= 1
