"""Racing verifications on one challenge: every wrong code is counted
exactly once, the lock falls exactly at the limit, and the right code
verifies exactly once (issue 3 item 1, last point)."""

import collections
import threading

from conftest import GB_MOBILE, SANDBOX_CODE


def race(n, fn):
    """fn(i) for i in 0..n-1, in n threads released together; the results."""
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    assert all(r is not None for r in results)
    return results


def outcome(r):
    if r.status == 204:
        return 204
    assert r.status == 409, r
    return r.json["errorCode"]


def issued(stack, **opts):
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    return p, u, token


def challenge_row(stack, token):
    rows = stack.psql("SELECT status, attempts FROM stepup.challenges WHERE session_id = :'s'",
                      s=stack.session_id(token))
    assert len(rows) == 1, rows
    return rows[0][0], int(rows[0][1])


def recorded_attempts(stack, token):
    rows = stack.psql("SELECT count(*) FROM stepup.verification_attempts a"
                      "  JOIN stepup.challenges c ON c.id = a.challenge_id"
                      " WHERE c.session_id = :'s'", s=stack.session_id(token))
    return int(rows[0][0])


def wrong(i):
    return f"{i:06d}"  # 000000..000099: never the sandbox code


def test_100_concurrent_wrong_codes_without_a_limit_count_100(stack):
    p, u, token = issued(stack, verify_attempts="off", limits={"verify-failures-per-user": "off"})
    results = race(100, lambda i: stack.verify(p.api_key, token, wrong(i)))
    counts = collections.Counter(outcome(r) for r in results)
    assert counts == {"VERIFICATION_CODE_INVALID": 100}, counts
    assert challenge_row(stack, token) == ("PENDING", 100)
    assert recorded_attempts(stack, token) == 100
    assert stack.verify(p.api_key, token, SANDBOX_CODE).status == 204


def test_100_concurrent_wrong_codes_stop_exactly_at_the_default_limit(stack):
    p, u, token = issued(stack)
    results = race(100, lambda i: stack.verify(p.api_key, token, wrong(i)))
    counts = collections.Counter(outcome(r) for r in results)
    assert counts == {"VERIFICATION_CODE_INVALID": 3, "ONE_CHALLENGE_LIMIT_REMAINING": 1,
                      "CHALLENGE_LIMIT_EXCEEDED": 1, "STATE_INVALID": 95}, counts
    assert challenge_row(stack, token) == ("FAILED", 5)
    assert outcome(stack.verify(p.api_key, token, SANDBOX_CODE)) == "STATE_INVALID"


def test_100_concurrent_wrong_codes_with_limit_3(stack):
    p, u, token = issued(stack, verify_attempts=3)
    results = race(100, lambda i: stack.verify(p.api_key, token, wrong(i)))
    counts = collections.Counter(outcome(r) for r in results)
    assert counts == {"VERIFICATION_CODE_INVALID": 1, "ONE_CHALLENGE_LIMIT_REMAINING": 1,
                      "CHALLENGE_LIMIT_EXCEEDED": 1, "STATE_INVALID": 97}, counts
    assert challenge_row(stack, token) == ("FAILED", 3)


def test_20_concurrent_right_codes_verify_once(stack):
    p, u, token = issued(stack)
    results = race(20, lambda i: stack.verify(p.api_key, token, SANDBOX_CODE))
    counts = collections.Counter(outcome(r) for r in results)
    assert counts == {204: 1, "ALREADY_VERIFIED": 19}, counts
    assert challenge_row(stack, token) == ("VERIFIED", 0)


def test_right_and_wrong_codes_racing(stack):
    # 49 wrong codes and one right one, no limit: whatever came before the
    # right code is counted, whatever came after is ALREADY_VERIFIED.
    p, u, token = issued(stack, verify_attempts="off", limits={"verify-failures-per-user": "off"})
    results = race(50, lambda i: stack.verify(p.api_key, token,
                                              SANDBOX_CODE if i == 25 else wrong(i)))
    assert outcome(results[25]) == 204
    counts = collections.Counter(outcome(r) for i, r in enumerate(results) if i != 25)
    assert set(counts) <= {"VERIFICATION_CODE_INVALID", "ALREADY_VERIFIED"}, counts
    assert sum(counts.values()) == 49
    assert challenge_row(stack, token) == ("VERIFIED", counts["VERIFICATION_CODE_INVALID"])


def test_20_concurrent_right_enrolment_codes_activate_once(stack):
    p = stack.make_programme()
    u = stack.make_user(p, mobile=GB_MOBILE, enrol=False)
    token = stack.session(u)
    assert stack.enrol(p.api_key, token).status == 204
    results = race(20, lambda i: stack.enrol_verify(p.api_key, token, SANDBOX_CODE))
    counts = collections.Counter(outcome(r) for r in results)
    assert counts == {204: 1, "ALREADY_VERIFIED": 19}, counts
    r = stack.factors(p.api_key, token)
    assert r.json == {"factors": [{"type": "OTP", "channel": "SMS", "status": "ACTIVE"}]}, r
