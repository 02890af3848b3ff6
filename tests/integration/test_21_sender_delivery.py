"""stepup-sender delivering texts: end to end over HTTP, the outcomes of
attempts (retry then success, retry until DEAD, a permanent failure),
messages whose challenge ended before they could be sent, the text
scrubbed afterwards, the providers (http, exec, log, chosen per programme),
SIGHUP, and the sender role's privileges.

Each test starts its own sender(s) against the session's database, pointed
at the in-process fake gateway (see sender_fixtures.py)."""

import concurrent.futures
import re
import subprocess
import time

from conftest import BUILD, GB_MOBILE, MT_MOBILE, PG_BIN, ROOT
from sender_fixtures import (SENDER_BIN, Flow, code_in, gateway, senders,  # noqa: F401 (fixtures)
                             wait_until, write_script)


def assert_scrubbed(row):
    assert not row["has_template"] and not row["has_sealed"], row


def test_end_to_end_issue_send_verify(stack, gateway, senders):
    """Issue over HTTP, the text reaches the gateway with the code that was
    sealed, and that code verifies the challenge (204)."""
    flow = Flow(stack)
    outbox_id = flow.issue()  # no sender yet: the row still holds its sealed code
    sealed_code = flow.code_of(outbox_id)
    senders.start()
    [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=[outbox_id])
    code = code_in(req["text"])
    stack.remember_code(code)
    assert code == sealed_code
    assert req["to"] == GB_MOBILE
    assert req["messageId"] == outbox_id
    assert req["text"] == f"{flow.programme.name} verification code: {code}. It expires in 5 minutes."
    assert req["contentType"] == "application/json"

    row = flow.wait_status(outbox_id, "SENT")
    assert_scrubbed(row)
    assert row["provider"] == "http"
    assert row["provider_message_id"] == f"gw-{req['seq']}"
    [a] = flow.attempts(outbox_id)
    assert (a["attempt"], a["status"], a["http_status"], a["provider"]) == ("1", "SENT", "200", "http")
    assert a["provider_message_id"] == f"gw-{req['seq']}"

    r = stack.verify(flow.programme.api_key, flow.token, code)
    assert r.status == 204, r


def test_the_sealed_code_reads_whatever_bytea_output_says(stack, gateway, senders):
    """A server set to bytea_output = escape sends bytea in another text
    form: the sender decodes it with libpq, and the code still arrives."""
    stack.psql("ALTER ROLE stepup_sender SET bytea_output = 'escape'")
    try:
        flow = Flow(stack)
        outbox_id = flow.issue()
        sealed_code = flow.code_of(outbox_id)
        senders.start()
        [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=[outbox_id])
        assert code_in(req["text"]) == sealed_code
        flow.wait_status(outbox_id, "SENT")
    finally:
        stack.psql("ALTER ROLE stepup_sender RESET bytea_output")


def test_notify_wakes_a_waiting_sender_at_once(stack, gateway, senders):
    """With a long poll interval, a new text still goes out at once: the
    issue's NOTIFY wakes the sender."""
    flow = Flow(stack)
    senders.start(poll_interval_ms=60000)
    time.sleep(0.3)  # the sender is asleep in its wait now
    t0 = time.monotonic()
    outbox_id = flow.issue()
    gateway.wait_for(lambda reqs: len(reqs) == 1, timeout=5, message_ids=[outbox_id])
    assert time.monotonic() - t0 < 3
    flow.wait_status(outbox_id, "SENT")


def test_a_burst_of_issues_wakes_the_sender_for_its_last_text_too(stack, gateway, senders):
    """stepup-fcgi wakes the senders once for the texts queued within a few
    milliseconds of each other (src/fcgi/waker.c): with a long poll
    interval, texts issued at once on eight sessions all go out at once,
    the last ones too, which a wake sent only for the first could leave
    waiting for the sender's next poll."""
    flow = Flow(stack)
    tokens = [stack.session(flow.user) for _ in range(8)]
    senders.start(poll_interval_ms=60000)
    time.sleep(0.3)  # the sender is asleep in its wait now
    before = {r["id"] for r in flow.rows()}
    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        answers = list(pool.map(lambda t: stack.issue(flow.programme.api_key, t), tokens))
    t0 = time.monotonic()
    assert [a.status for a in answers] == [204] * len(tokens), answers
    ids = [r["id"] for r in flow.rows() if r["id"] not in before]
    assert len(ids) == len(tokens)
    gateway.wait_for(lambda reqs: len(reqs) == len(ids), timeout=5, message_ids=ids)
    assert time.monotonic() - t0 < 3
    for outbox_id in ids:
        flow.wait_status(outbox_id, "SENT")


def test_retry_then_success(stack, gateway, senders):
    flow = Flow(stack)
    outbox_id = flow.issue()
    gateway.rule(status=500, times=2, message_id=outbox_id)
    senders.start(max_attempts=5)
    row = flow.wait_status(outbox_id, "SENT")
    assert_scrubbed(row)
    reqs = gateway.requests(message_ids=[outbox_id])
    assert [r["status"] for r in reqs] == [500, 500, 200]
    assert reqs[1]["at"] - reqs[0]["at"] >= 0.045, "no back-off between attempts"
    attempts = flow.attempts(outbox_id)
    assert [(a["status"], a["http_status"]) for a in attempts] == \
        [("RETRY", "500"), ("RETRY", "500"), ("SENT", "200")]
    assert "HTTP 500" in attempts[0]["error"]
    assert row["attempts"] == 3 and row["last_error"] == ""
    stack.remember_code(code_in(reqs[-1]["text"]))


def test_retry_until_dead(stack, gateway, senders):
    flow = Flow(stack)
    outbox_id = flow.issue()
    gateway.rule(status=503, message_id=outbox_id)
    senders.start(max_attempts=3)
    row = flow.wait_status(outbox_id, "DEAD")
    assert_scrubbed(row)
    assert row["attempts"] == 3
    assert row["last_error"].startswith("HTTP 503")
    assert [a["status"] for a in flow.attempts(outbox_id)] == ["RETRY", "RETRY", "DEAD"]
    time.sleep(0.5)
    assert len(gateway.requests(message_ids=[outbox_id])) == 3, "tried again after DEAD"


def test_permanent_failure_is_not_retried(stack, gateway, senders):
    flow = Flow(stack)
    outbox_id = flow.issue()
    gateway.rule(status=400, message_id=outbox_id)
    senders.start(max_attempts=5)
    row = flow.wait_status(outbox_id, "DEAD")
    assert_scrubbed(row)
    [a] = flow.attempts(outbox_id)
    assert (a["status"], a["http_status"]) == ("PERMANENT", "400")
    # the gateway's answer is kept (it said nothing secret), never the text
    assert a["error"] == 'HTTP 400: {"error": "fake gateway answers 400"}'
    time.sleep(0.5)
    assert len(gateway.requests(message_ids=[outbox_id])) == 1


def test_timeout_is_retried(stack, gateway, senders):
    """A gateway slower than http_timeout_ms: the attempt fails (it may have
    gone out: at least once) and the message is tried again."""
    flow = Flow(stack)
    outbox_id = flow.issue()
    gateway.rule(delay=1.5, times=1, message_id=outbox_id)
    senders.start(http_timeout_ms=500, max_attempts=3)
    flow.wait_status(outbox_id, "SENT")
    attempts = flow.attempts(outbox_id)
    assert [a["status"] for a in attempts] == ["RETRY", "SENT"]
    assert "Timeout" in attempts[0]["error"] or "timed out" in attempts[0]["error"], attempts[0]
    assert attempts[0]["http_status"] == ""


def test_expired_challenge_is_not_sent(stack, gateway, senders):
    flow = Flow(stack, expiry_seconds=1)
    outbox_id = flow.issue()
    time.sleep(1.3)  # no sender yet: the challenge expires while the text waits
    senders.start()
    row = flow.wait_status(outbox_id, "EXPIRED")
    assert_scrubbed(row)
    assert "expired" in row["last_error"]
    assert row["attempts"] == 0 and flow.attempts(outbox_id) == []
    time.sleep(0.3)
    assert gateway.requests(message_ids=[outbox_id]) == []


def test_expired_while_retrying_is_not_sent_again(stack, gateway, senders):
    """The challenge expires during the back-off after a failure: the next
    claim ends the message instead of sending it."""
    flow = Flow(stack, expiry_seconds=2)
    outbox_id = flow.issue()
    gateway.rule(status=500, message_id=outbox_id)
    senders.start(max_attempts=10, backoff_base_ms=5000, backoff_max_ms=5000)  # waits >= 2.5 s
    row = flow.wait_status(outbox_id, "EXPIRED", timeout=10)
    assert_scrubbed(row)
    assert [a["status"] for a in flow.attempts(outbox_id)] == ["RETRY"]
    assert len(gateway.requests(message_ids=[outbox_id])) == 1


def test_superseded_and_verified_challenges_are_not_sent(stack, gateway, senders):
    flow = Flow(stack)
    first = flow.issue()
    second = flow.issue()  # supersedes the first challenge
    third_flow = Flow(stack)
    third = third_flow.issue()
    code = third_flow.code_of(third)
    assert stack.verify(third_flow.programme.api_key, third_flow.token, code).status == 204
    senders.start()
    flow.wait_status(second, "SENT")
    row = flow.wait_status(first, "EXPIRED")
    assert_scrubbed(row)
    assert "superseded" in row["last_error"]
    row = third_flow.wait_status(third, "EXPIRED")
    assert "verified" in row["last_error"]
    assert gateway.requests(message_ids=[first, third]) == []
    assert len(gateway.requests(message_ids=[second])) == 1


def test_programme_provider_log(stack, gateway, senders):
    """A programme set to the log provider: nothing reaches the gateway, the
    log says a text would have gone out (masked number, no text, no code)."""
    flow = Flow(stack, mobile=MT_MOBILE)
    flow.set("--sms-provider", "log")
    outbox_id = flow.issue()
    code = flow.code_of(outbox_id)
    s = senders.start()
    row = flow.wait_status(outbox_id, "SENT")
    assert_scrubbed(row)
    assert row["provider"] == "log"
    assert gateway.requests(message_ids=[outbox_id]) == []
    log = s.log()
    assert f"would send to +35\u20263456 message {outbox_id}" in log
    assert code not in log and MT_MOBILE not in log
    # back to the sender's default
    flow.set("--sms-provider", "default")
    second = flow.issue()
    flow.wait_status(second, "SENT")
    assert len(gateway.requests(message_ids=[second])) == 1


def test_unconfigured_provider_is_retried_then_dead(stack, gateway, senders):
    flow = Flow(stack)
    flow.set("--sms-provider", "exec")  # this sender has no exec_program
    outbox_id = flow.issue()
    senders.start(max_attempts=2)
    row = flow.wait_status(outbox_id, "DEAD")
    assert "provider exec is not configured" in row["last_error"]
    assert [a["status"] for a in flow.attempts(outbox_id)] == ["RETRY", "DEAD"]


def test_exec_provider(stack, gateway, senders):
    """exec: the number as the argument, the text on standard input; exit 0
    is sent, a listed exit status is permanent, others and a hang are
    retried (the hang is killed)."""
    out = stack.state_dir / "sender-tests" / "exec-out"
    script = write_script(stack, "fake-sms.sh", f"""
to="$1"
text=$(cat)
case "$to" in
  +35699*) echo "no route to $to" >&2; exit 2 ;;
esac
if [ -f {out}.hang ]; then rm -f {out}.hang; sleep 30; fi
if [ -f {out}.fail ]; then rm -f {out}.fail; echo "modem busy: $text"; exit 75; fi
printf '%s|%s\\n' "$to" "$text" >> {out}
""")
    ok = Flow(stack)
    ok.set("--sms-provider", "exec")
    refused = Flow(stack, mobile=MT_MOBILE)
    refused.set("--sms-provider", "exec")
    out.write_text("")
    out.with_suffix(".fail").write_text("1")
    first = ok.issue()
    code = ok.code_of(first)
    no_route = refused.issue()
    senders.start(exec_program=str(script), exec_permanent_exit_codes="2,3",
                  exec_timeout_ms=700, max_attempts=4)
    ok.wait_status(first, "SENT")
    row = refused.wait_status(no_route, "DEAD")
    assert_scrubbed(row)
    assert out.read_text() == f"{GB_MOBILE}|{ok.programme.name} verification code: {code}. " \
                              f"It expires in 5 minutes.\n"
    attempts = ok.attempts(first)
    assert [(a["status"], a["exit_code"]) for a in attempts] == [("RETRY", "75"), ("SENT", "0")]
    # what the program said is kept, with the code blotted out
    assert attempts[0]["error"].startswith("exit status 75: modem busy: ")
    assert code not in attempts[0]["error"] and "******" in attempts[0]["error"]
    [a] = refused.attempts(no_route)
    assert (a["status"], a["exit_code"]) == ("PERMANENT", "2")
    assert "no route to +35699123456" in a["error"]

    out.with_suffix(".hang").write_text("1")
    t0 = time.monotonic()
    hung = ok.issue()
    ok.wait_status(hung, "SENT", timeout=10)
    attempts = ok.attempts(hung)
    assert [(a["status"], a["exit_code"]) for a in attempts] == [("RETRY", "-9"), ("SENT", "0")]
    assert "killed after 700 ms" in attempts[0]["error"]
    assert time.monotonic() - t0 < 8
    assert gateway.requests(message_ids=[first, no_route, hung]) == []
    out.unlink()  # it holds texts with their codes


def test_form_body_custom_headers_and_put(stack, gateway, senders):
    flow = Flow(stack)
    outbox_id = flow.issue()
    code = flow.code_of(outbox_id)
    senders.start(http_body_type="form", http_method="PUT",
                  http_body="to={to}&text={text}&messageId={message_id}",
                  http_header=["Authorization: Basic dXNlcjpwYXNz", "X-Extra: 1"])
    [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=[outbox_id])
    assert req["method"] == "PUT"
    assert req["contentType"] == "application/x-www-form-urlencoded"
    assert req["authorization"] == "Basic dXNlcjpwYXNz"
    assert req["to"] == GB_MOBILE and code in req["text"]
    flow.wait_status(outbox_id, "SENT")


def test_sighup_reloads_and_keeps_a_good_configuration(stack, gateway, senders):
    flow = Flow(stack)
    s = senders.make(provider="log")
    s.start()
    first = flow.issue()
    flow.wait_status(first, "SENT")
    assert flow.row(first)["provider"] == "log"

    s.settings["provider"] = "http"
    s.write_config()
    s.signal(1)  # SIGHUP
    wait_until(lambda: "configuration reloaded" in s.log(), what="reload")
    second = flow.issue()
    flow.wait_status(second, "SENT")
    assert flow.row(second)["provider"] == "http"
    assert len(gateway.requests(message_ids=[second])) == 1

    # A broken file is refused; the running configuration stays.
    s.write_raw(s.conf_path.read_text() + "provider = carrier-pigeon\n")
    s.signal(1)
    wait_until(lambda: "keeping the running configuration" in s.log(), what="refusal")
    third = flow.issue()
    flow.wait_status(third, "SENT")
    assert flow.row(third)["provider"] == "http"
    assert s.running()


def test_bad_configuration_is_refused_at_start(stack, senders):
    s = senders.make(provider="log")
    # stepup-sender would not write this file itself: by hand
    s.write_raw(f"outbox_key = {stack.outbox_key.hex()}\nprovider = http\nhttp_url =\n")
    p = subprocess.run([str(SENDER_BIN), "-c", str(s.conf_path)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1
    assert "provider is http but http_url is not set" in p.stderr
    assert stack.outbox_key.hex() not in p.stderr


def psql_as(stack, role, sql):
    env = stack.subprocess_env(PGUSER=role)
    return subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], capture_output=True, text=True, env=env, timeout=30)


def test_sender_role_may_only_call_the_sender_functions(stack):
    ok = psql_as(stack, "stepup_sender", "SELECT stepup.sender_next_due() IS NULL OR true")
    assert ok.returncode == 0, ok.stderr
    for sql in ("SELECT count(*) FROM stepup.sms_outbox",
                "SELECT count(*) FROM stepup.challenges",
                "SELECT count(*) FROM stepup.sms_attempts",
                "UPDATE stepup.sms_outbox SET status = 'SENT'",
                "SELECT * FROM stepup.api_logout('\\x00'::bytea, '\\x00'::bytea, NULL, NULL, NULL)"):
        p = psql_as(stack, "stepup_sender", sql)
        assert p.returncode != 0 and "permission denied" in p.stderr, (sql, p.stdout, p.stderr)
    # and stepup-fcgi's role cannot drive the outbox
    p = psql_as(stack, "stepup_app", "SELECT * FROM stepup.sender_claim('x', 1, 60, 5)")
    assert p.returncode != 0 and "permission denied" in p.stderr, p.stderr
    # the auditor reads the deliveries through the schema audit only (its
    # views show no text and no sealed code), never stepup's own tables
    p = psql_as(stack, "stepup", "SELECT has_table_privilege('stepup_auditor', 'audit.sms_deliveries', 'SELECT'),"
                " has_table_privilege('stepup_auditor', 'stepup.sms_attempts', 'SELECT'),"
                " has_column_privilege('stepup_auditor', 'stepup.sms_outbox', 'code_sealed', 'SELECT'),"
                " has_schema_privilege('stepup_auditor', 'stepup', 'USAGE')")
    assert p.stdout.strip() == "t|f|f|f", p.stdout


def test_describe_config_matches_the_readme(stack):
    """Every stepup-sender setting has a row with the same default in the
    README's stepup-sender.conf table."""
    out = subprocess.run([str(BUILD / "src/sender/stepup-sender"), "--describe-config"],
                         check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", out, re.M)
    assert len(rows) >= 20, out
    readme = (ROOT / "README.md").read_text()
    m = re.search(r"^### `stepup-sender.conf`.*?(?=^#{1,3} )", readme, re.M | re.S)
    assert m, "README.md has no ### `stepup-sender.conf` section"
    section = m.group(0)
    for key, default in rows:
        row = re.search(r"^\| `%s` \| ([^|]+) \|" % re.escape(key), section, re.M)
        assert row, f"stepup-sender setting {key} is not documented in README.md"
        assert row.group(1).strip() == default.strip(), \
            f"README.md gives {key} the default {row.group(1).strip()}, the code {default.strip()}"
