"""Issuing rules: retry window, per-session limit, supersede, what is stored
(keyed hash, sealed outbox code) and the sandbox."""

import re
import subprocess
import time

from conftest import GB_MOBILE, PG_BIN, SANDBOX_CODE


def assert_409(r, code):
    assert r.status == 409, r
    assert r.json == {"errorCode": code}, r


def ready(stack, **opts):
    mobile = opts.pop("mobile", GB_MOBILE)
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=mobile)
    return p, u, stack.session(u)


def test_retry_window(stack):
    p, u, token = ready(stack, retry_seconds=2, issue_limit=5)
    # The window opened between sent and answered (a busy machine may take
    # a while to answer): refusals are timed from sent, the next 204 from
    # answered.
    sent = time.monotonic()
    assert stack.issue(p.api_key, token).status == 204
    answered = time.monotonic()
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")
    time.sleep(max(0, sent + 1.2 - time.monotonic()))
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")
    time.sleep(max(0, answered + 2.3 - time.monotonic()))
    assert stack.issue(p.api_key, token).status == 204
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")


def test_refused_calls_do_not_move_the_window(stack):
    p, u, token = ready(stack, retry_seconds=3, issue_limit=5)
    sent = time.monotonic()  # as in test_retry_window
    assert stack.issue(p.api_key, token).status == 204
    answered = time.monotonic()
    # Refused at t=1.5: had it moved the window, the next 204 would wait until 4.5.
    time.sleep(max(0, sent + 1.5 - time.monotonic()))
    refused = time.monotonic()
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")
    time.sleep(max(0, answered + 3.3 - time.monotonic()))
    assert time.monotonic() < refused + 3, "too slow to tell the windows apart"
    assert stack.issue(p.api_key, token).status == 204


def test_window_counts_whatever_became_of_the_challenge(stack):
    p, u, token = ready(stack, retry_seconds=2)
    assert stack.issue(p.api_key, token).status == 204
    # The challenge is over (as if verified): the window still holds.
    stack.psql("UPDATE stepup.challenges SET status = 'VERIFIED', ended_at = now()"
               " WHERE session_id = :'s'", s=stack.session_id(token))
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")


def test_windows_are_per_session(stack):
    p, u, token = ready(stack)
    assert stack.issue(p.api_key, token).status == 204
    assert stack.issue(p.api_key, stack.session(u)).status == 204


def test_session_limit_and_a_new_login(stack):
    p, u, token = ready(stack, retry_seconds=1)  # default issue limit: 2
    assert stack.issue(p.api_key, token).status == 204
    time.sleep(1.2)
    assert stack.issue(p.api_key, token).status == 204
    time.sleep(1.2)
    assert_409(stack.issue(p.api_key, token), "CHALLENGE_LIMIT_EXCEEDED")
    # A new login starts afresh; the old session stays exhausted.
    fresh = stack.session(u)
    assert stack.issue(p.api_key, fresh).status == 204
    assert_409(stack.issue(p.api_key, token), "CHALLENGE_LIMIT_EXCEEDED")
    rows = stack.psql("SELECT challenges_issued FROM stepup.sessions WHERE id = :'s'",
                      s=stack.session_id(token))
    assert rows == [["2"]]


def test_issue_limit_setting(stack):
    p, u, token = ready(stack, retry_seconds=1, issue_limit=1)
    assert stack.issue(p.api_key, token).status == 204
    time.sleep(1.2)
    assert_409(stack.issue(p.api_key, token), "CHALLENGE_LIMIT_EXCEEDED")
    stack.ctl("programme", "set", p.id, "--issue-limit", "3")
    assert stack.issue(p.api_key, token).status == 204


def test_new_challenge_supersedes_the_pending_one(stack):
    p, u, token = ready(stack, retry_seconds=1)
    r1 = stack.issue(p.api_key, token)
    assert r1.status == 204
    first = stack.challenges(token)
    assert [c["status"] for c in first] == ["PENDING"]
    time.sleep(1.2)
    r2 = stack.issue(p.api_key, token)
    assert r2.status == 204
    both = stack.challenges(token)
    assert [c["status"] for c in both] == ["SUPERSEDED", "PENDING"], both
    assert both[0]["id"] == first[0]["id"]
    assert both[0]["ended"] == "t" and both[1]["ended"] == "f"
    # Each row carries the request-ref of the response that issued it.
    assert [c["request_ref"] for c in both] == [r1.ref, r2.ref]


def test_sandbox_challenge(stack):
    p, u, token = ready(stack, sandbox=True, expiry_seconds=120)
    r = stack.issue(p.api_key, token)
    assert r.status == 204
    [c] = stack.challenges(token)
    assert c["status"] == "PENDING" and c["sandbox"] == "t"
    assert c["purpose"] == "STEPUP" and c["channel"] == "SMS" and c["mobile"] == GB_MOBILE
    assert c["expiry"] == "120"
    # The fixed sandbox code, stored only as its keyed hash.
    assert c["code_hash"] == stack.code_hash(token, SANDBOX_CODE)
    assert SANDBOX_CODE.encode().hex() not in c["code_hash"]
    assert stack.outbox(p) == []


def test_outbox_row_holds_the_sealed_code(stack):
    p, u, token = ready(stack, sandbox=False)
    assert stack.issue(p.api_key, token).status == 204
    [c] = stack.challenges(token)
    assert c["sandbox"] == "f" and c["expiry"] == "300"  # default expiry
    [row] = stack.outbox(p)
    assert row["challenge_id"] == c["id"]
    assert row["to_number"] == GB_MOBILE
    assert row["status"] == "PENDING"
    code = row["code"]
    assert re.fullmatch(r"[0-9]{6}", code), code
    # The text waits with its {code} placeholder; the code itself is sealed.
    assert "{code}" in row["body_template"]
    assert code not in row["body_template"]
    assert len(bytes.fromhex(row["sealed"])) == 12 + 6 + 16
    # The stored hash is the keyed hash of this code, not the code.
    assert c["code_hash"] == stack.code_hash(token, code)
    assert code.encode().hex() not in c["code_hash"] and code not in c["code_hash"]


def test_codes_differ_between_challenges(stack):
    p, u, token = ready(stack, sandbox=False, retry_seconds=0, issue_limit=10)
    for _ in range(6):
        assert stack.issue(p.api_key, token).status == 204
    codes = [row["code"] for row in stack.outbox(p)]
    assert len(codes) == 6
    # Six draws of a million: equal codes mean a broken generator (p < 2e-5).
    assert len(set(codes)) == 6, codes
    statuses = [c["status"] for c in stack.challenges(token)]
    assert statuses == ["SUPERSEDED"] * 5 + ["PENDING"]


def test_outbox_insert_is_notified(stack):
    p, u, token = ready(stack, sandbox=False)
    listener = subprocess.Popen(
        [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=stack.subprocess_env(PGUSER=stack.pg_owner))
    lines = []
    try:
        listener.stdin.write("LISTEN stepup_outbox;\nSELECT 'listening';\n")
        listener.stdin.flush()
        assert listener.stdout.readline().strip() == "listening"
        assert stack.issue(p.api_key, token).status == 204
        # The wake-up follows the 204 (stepup.api_wake_sender, sent once the
        # answer has left).  psql reports a notification after the result of
        # the command during which it arrived, so ask until it has: each
        # round's lines end with its own marker.
        deadline = time.monotonic() + 10
        while not any('"stepup_outbox"' in line for line in lines):
            assert time.monotonic() < deadline, lines
            listener.stdin.write("SELECT 'mark';\n")
            listener.stdin.flush()
            while (line := listener.stdout.readline().strip()) != "mark":
                assert line, lines  # EOF: psql died
                lines.append(line)
            time.sleep(0.1)
    finally:
        listener.kill()
        listener.wait(timeout=10)
    assert any('"stepup_outbox"' in line for line in lines), lines
