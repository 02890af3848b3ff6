"""Verifying a step-up code: the attempt rule for every kind of limit,
expiry, ALREADY_VERIFIED, superseded challenges, what is recorded, and
idempotent replay (issue 3 item 1)."""

import time
import uuid

import pytest

from conftest import GB_MOBILE, SANDBOX_CODE

INVALID = "VERIFICATION_CODE_INVALID"
ONE_LEFT = "ONE_CHALLENGE_LIMIT_REMAINING"
EXCEEDED = "CHALLENGE_LIMIT_EXCEEDED"


def expected_sequence(limit):
    """The answers to consecutive wrong codes under an effective limit N:
    1..N-2 INVALID, N-1 ONE_LEFT, N EXCEEDED."""
    if limit == 1:
        return [EXCEEDED]
    return [INVALID] * (limit - 2) + [ONE_LEFT, EXCEEDED]


def wrong_codes(n):
    """n distinct six-digit codes, none of them the sandbox code."""
    return [f"{i:06d}" for i in range(n)]


def ready(stack, **opts):
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    return p, u, token


def issued(stack, **opts):
    p, u, token = ready(stack, **opts)
    assert stack.issue(p.api_key, token).status == 204
    return p, u, token


def answer(r):
    if r.status == 204:
        return 204
    assert r.status == 409, r
    assert set(r.json) == {"errorCode"}, r
    return r.json["errorCode"]


def latest(stack, token):
    """(status, attempts) of the session's latest challenge."""
    rows = stack.psql("SELECT status, attempts FROM stepup.challenges WHERE session_id = :'s'"
                      " ORDER BY created_at DESC LIMIT 1", s=stack.session_id(token))
    return rows[0][0], int(rows[0][1])


def stepped_up(stack, token):
    rows = stack.psql("SELECT stepped_up_at IS NOT NULL FROM stepup.sessions WHERE id = :'s'",
                      s=stack.session_id(token))
    return rows == [["t"]]


# The programme's --verify-attempts and the limit it means.
LIMITS = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (None, 5), (0, 5), (6, 5), (7, 5),
          (1000000, 5)]


@pytest.mark.parametrize("setting,limit", LIMITS,
                         ids=[f"setting-{s}" for s, _ in LIMITS])
def test_attempt_rule(stack, setting, limit):
    p, u, token = issued(stack, verify_attempts=setting)
    seq = expected_sequence(limit)
    got = [answer(stack.verify(p.api_key, token, code)) for code in wrong_codes(len(seq))]
    assert got == seq
    assert latest(stack, token) == ("FAILED", limit)
    # Locked: every later attempt, even with the right code, is STATE_INVALID.
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == "STATE_INVALID"
    assert answer(stack.verify(p.api_key, token, "999999")) == "STATE_INVALID"
    assert latest(stack, token) == ("FAILED", limit)
    assert not stepped_up(stack, token)


@pytest.mark.parametrize("setting,limit", LIMITS,
                         ids=[f"setting-{s}" for s, _ in LIMITS])
def test_right_code_before_the_limit_is_204(stack, setting, limit):
    p, u, token = issued(stack, verify_attempts=setting)
    seq = expected_sequence(limit)[:-1]  # every wrong answer short of the lock
    got = [answer(stack.verify(p.api_key, token, code)) for code in wrong_codes(len(seq))]
    assert got == seq
    assert not stepped_up(stack, token)
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == 204
    assert latest(stack, token) == ("VERIFIED", limit - 1)
    assert stepped_up(stack, token)


def test_limit_off_never_locks(stack):
    # (the user's own limit, verify-failures-per-user, off too: see test_40)
    p, u, token = issued(stack, verify_attempts="off", limits={"verify-failures-per-user": "off"})
    got = [answer(stack.verify(p.api_key, token, code)) for code in wrong_codes(25)]
    assert got == [INVALID] * 25
    assert latest(stack, token) == ("PENDING", 25)
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == 204
    assert latest(stack, token) == ("VERIFIED", 25)
    assert stepped_up(stack, token)


def test_limit_can_be_switched_off_and_on(stack):
    p, u, token = issued(stack, verify_attempts=3)
    stack.ctl("programme", "set", p.id, "--verify-attempts", "off")
    assert [answer(stack.verify(p.api_key, token, c)) for c in wrong_codes(4)] == [INVALID] * 4
    # Back to 5: this challenge has had 4 wrong codes, the fifth locks it.
    stack.ctl("programme", "set", p.id, "--verify-attempts", "5")
    assert answer(stack.verify(p.api_key, token, "999999")) == EXCEEDED
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == "STATE_INVALID"


def test_a_new_challenge_counts_afresh(stack):
    p, u, token = issued(stack, verify_attempts=3, retry_seconds=0)
    assert [answer(stack.verify(p.api_key, token, c)) for c in wrong_codes(2)] == \
        [INVALID, ONE_LEFT]
    assert stack.issue(p.api_key, token).status == 204  # supersedes the first
    assert [answer(stack.verify(p.api_key, token, c)) for c in wrong_codes(2)] == \
        [INVALID, ONE_LEFT]
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == 204
    assert [c["status"] for c in stack.challenges(token)] == ["SUPERSEDED", "VERIFIED"]


def test_after_a_lock_a_new_challenge_can_still_step_up(stack):
    p, u, token = issued(stack, verify_attempts=1, retry_seconds=0)
    assert answer(stack.verify(p.api_key, token, "000000")) == EXCEEDED
    assert stack.issue(p.api_key, token).status == 204
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == 204
    assert [c["status"] for c in stack.challenges(token)] == ["FAILED", "VERIFIED"]


def test_expiry(stack):
    p, u, token = issued(stack, expiry_seconds=1)
    assert answer(stack.verify(p.api_key, token, "000000")) == INVALID  # in time: counted
    time.sleep(1.3)
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == "VERIFICATION_CODE_EXPIRED"
    assert answer(stack.verify(p.api_key, token, "000001")) == "VERIFICATION_CODE_EXPIRED"
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == "VERIFICATION_CODE_EXPIRED"
    # Expired attempts are not counted; the challenge ended when it expired.
    assert latest(stack, token) == ("EXPIRED", 1)
    rows = stack.psql("SELECT ended_at = expires_at FROM stepup.challenges"
                      " WHERE session_id = :'s'", s=stack.session_id(token))
    assert rows == [["t"]]
    assert not stepped_up(stack, token)


def test_expiry_comes_before_the_lock(stack):
    # Four wrong codes of five, then too late: EXPIRED, never EXCEEDED.
    p, u, token = issued(stack, expiry_seconds=2)
    assert [answer(stack.verify(p.api_key, token, c)) for c in wrong_codes(4)] == \
        [INVALID, INVALID, INVALID, ONE_LEFT]
    time.sleep(2.3)
    assert answer(stack.verify(p.api_key, token, "999999")) == "VERIFICATION_CODE_EXPIRED"
    assert latest(stack, token) == ("EXPIRED", 4)


def test_already_verified(stack):
    p, u, token = issued(stack)
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == 204
    for code in (SANDBOX_CODE, "000000", SANDBOX_CODE):
        assert answer(stack.verify(p.api_key, token, code)) == "ALREADY_VERIFIED"
    assert latest(stack, token) == ("VERIFIED", 0)


def test_stepping_up_records_when(stack):
    p, u, token = issued(stack)
    sid = stack.session_id(token)
    assert not stepped_up(stack, token)
    before = stack.psql("SELECT now()")[0][0]
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == 204
    rows = stack.psql("SELECT s.stepped_up_at >= :'t'::timestamptz,"
                      "       s.stepped_up_at = c.ended_at"
                      "  FROM stepup.sessions s JOIN stepup.challenges c ON c.session_id = s.id"
                      " WHERE s.id = :'s'", s=sid, t=before)
    assert rows == [["t", "t"]]
    # Another session of the same user is not stepped up by it.
    other = stack.session(u)
    assert not stepped_up(stack, other)


def test_non_sandbox_code_from_the_outbox(stack):
    p, u, token = issued(stack, sandbox=False)
    [row] = stack.outbox(p)
    code = row["code"]
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    assert answer(stack.verify(p.api_key, token, wrong)) == INVALID
    if code != SANDBOX_CODE:  # one chance in a million
        assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == INVALID
    assert answer(stack.verify(p.api_key, token, code)) == 204
    assert stepped_up(stack, token)


def test_only_the_latest_challenge_counts(stack):
    p, u, token = issued(stack, sandbox=False, retry_seconds=0)
    assert stack.issue(p.api_key, token).status == 204
    first, second = [row["code"] for row in stack.outbox(p)]
    if first != second:  # one chance in a million
        assert answer(stack.verify(p.api_key, token, first)) == INVALID
    assert answer(stack.verify(p.api_key, token, second)) == 204
    assert [c["status"] for c in stack.challenges(token)] == ["SUPERSEDED", "VERIFIED"]


def test_a_code_is_bound_to_its_session(stack):
    # Sandbox: both sessions' code is 123456, but each challenge is its own.
    p, u, token = issued(stack)
    other = stack.session(u)
    assert answer(stack.verify(p.api_key, other, SANDBOX_CODE)) == "STATE_INVALID"
    assert stack.issue(p.api_key, other).status == 204
    assert answer(stack.verify(p.api_key, other, SANDBOX_CODE)) == 204
    assert latest(stack, token) == ("PENDING", 0)


def test_every_attempt_is_recorded(stack):
    p, u, token = issued(stack, verify_attempts=3)
    for code in ("000000", SANDBOX_CODE, SANDBOX_CODE):
        stack.verify(p.api_key, token, code)
    rows = stack.psql(
        "SELECT coalesce(a.matched::text, ''), a.outcome FROM stepup.verification_attempts a"
        "  JOIN stepup.challenges c ON c.id = a.challenge_id"
        " WHERE c.session_id = :'s' ORDER BY a.id", s=stack.session_id(token))
    assert rows == [["false", INVALID], ["true", "OK"], ["", "ALREADY_VERIFIED"]]


def test_logged_out_session_cannot_verify(stack):
    p, u, token = issued(stack)
    assert stack.request("POST", "/logout", api_key=p.api_key, token=token).status == 204
    r = stack.verify(p.api_key, token, SANDBOX_CODE)
    assert r.status == 401, r
    status, tries = latest(stack, token)
    assert status != "VERIFIED" and tries == 0
    assert not stepped_up(stack, token)


# -- idempotency-ref ------------------------------------------------------------
def test_idempotent_replay_of_a_204(stack):
    p, u, token = issued(stack)
    ref = str(uuid.uuid4())
    first = stack.verify(p.api_key, token, SANDBOX_CODE, idem=ref)
    assert first.status == 204
    again = stack.verify(p.api_key, token, SANDBOX_CODE, idem=ref)
    assert (again.status, again.raw) == (204, "")  # not ALREADY_VERIFIED
    assert again.ref != first.ref
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE)) == "ALREADY_VERIFIED"


def test_idempotent_replay_of_a_wrong_code_is_not_counted_again(stack):
    p, u, token = issued(stack, verify_attempts=3)
    ref = str(uuid.uuid4())
    for _ in range(4):
        assert answer(stack.verify(p.api_key, token, "000000", idem=ref)) == INVALID
    assert latest(stack, token) == ("PENDING", 1)
    assert answer(stack.verify(p.api_key, token, "000001")) == ONE_LEFT


def test_same_ref_other_code_is_422(stack):
    p, u, token = issued(stack)
    ref = str(uuid.uuid4())
    assert answer(stack.verify(p.api_key, token, "000000", idem=ref)) == INVALID
    r = stack.verify(p.api_key, token, SANDBOX_CODE, idem=ref)
    assert r.status == 422, r
    assert r.json["code"] == "IDEMPOTENCY_REF_MISMATCH", r
    assert latest(stack, token) == ("PENDING", 1)
    assert answer(stack.verify(p.api_key, token, SANDBOX_CODE, idem=str(uuid.uuid4()))) == 204
