"""Lock-outs (issue 8): a user whose wrong codes reach
verify-failures-per-user can neither verify nor get a new challenge until
the lock ends; each further lock-out within a day doubles it; `stepupctl
limits reset` lifts it and `limits show` tells what is counted; and an
attacker holding the password gets no more guesses than README.md says."""

import time

from conftest import SANDBOX_CODE
from test_40_limits import EVERY_LIMIT_OFF, assert_429, fresh_window


def locking_programme(stack, spec, **opts):
    return stack.make_programme(limits=dict(EVERY_LIMIT_OFF, **{"verify-failures-per-user": spec}),
                                retry_seconds=0, issue_limit=1000, **opts)


def wrong_codes(stack, p, token, n, start=0):
    """n wrong codes: the answers' errorCodes (or statuses)."""
    out = []
    for i in range(start, start + n):
        r = stack.verify(p.api_key, token, f"{i:06d}")
        out.append(r.json["errorCode"] if r.status == 409 else r.status)
    return out


def evaluated_wrong(stack, user):
    [[n]] = stack.psql("SELECT count(*) FROM stepup.verification_attempts a"
                       "  JOIN stepup.challenges c ON c.id = a.challenge_id"
                       " WHERE c.user_id = :'u' AND a.matched = false", u=user.id)
    return int(n)


def test_reaching_the_limit_locks_the_user_out_everywhere(stack):
    p = locking_programme(stack, "3/1h")
    u = stack.make_user(p)
    token = stack.session(u)
    fresh_window(3600, 30)
    assert stack.issue(p.api_key, token).status == 204
    assert wrong_codes(stack, p, token, 3) == ["VERIFICATION_CODE_INVALID"] * 3
    # the right code now: refused, not evaluated, nothing counted
    reset = assert_429(stack.verify(p.api_key, token, SANDBOX_CODE), 3, 3600)
    assert reset >= 3590
    assert_429(stack.issue(p.api_key, token), 3, 3600)
    other = stack.session(u)  # logging in again does not help
    assert_429(stack.issue(p.api_key, other), 3, 3600)
    assert_429(stack.verify(p.api_key, other, SANDBOX_CODE), 3, 3600)
    assert evaluated_wrong(stack, u) == 3
    [[status, attempts]] = stack.psql(
        "SELECT status, attempts FROM stepup.challenges WHERE user_id = :'u'", u=u.id)
    assert (status, attempts) == ("PENDING", "3")
    # another user of the programme is not affected
    v = stack.make_user(p)
    assert stack.issue(p.api_key, stack.session(v)).status == 204

    shown = stack.ctl("limits", "show", "--user", u.id)
    assert shown["locked_out"] is True
    assert [o["holds"] for o in shown["lockouts"]] == [True]
    counted = {c["limit"]: c for c in shown["counted"]}
    assert counted["verify-failures-per-user"]["value"] == "3/1h"
    assert counted["verify-failures-per-user"]["hits"] == 0  # the count starts again

    assert stack.ctl("limits", "reset", "--user", u.id)["lockouts_lifted"] == 1
    assert stack.ctl("limits", "show", "--user", u.id)["locked_out"] is False
    assert stack.verify(p.api_key, token, SANDBOX_CODE).status == 204


def test_failures_of_all_sessions_and_enrolment_count_together(stack):
    p = locking_programme(stack, "4/1h")
    u = stack.make_user(p, enrol=False)
    fresh_window(3600, 30)
    a = stack.session(u)
    assert stack.enrol(p.api_key, a).status == 204
    for code in ("000001", "000002"):
        assert stack.enrol_verify(p.api_key, a, code).status == 409
    b = stack.session(u)
    assert stack.enrol(p.api_key, b).status == 204
    assert stack.enrol_verify(p.api_key, b, "000003").status == 409
    assert stack.enrol_verify(p.api_key, b, "000004").status == 409  # the fourth: it locks
    assert_429(stack.enrol_verify(p.api_key, b, SANDBOX_CODE), 4, 3600)
    assert_429(stack.enrol(p.api_key, a), 4, 3600)


def test_each_further_lock_out_within_a_day_doubles(stack):
    p = locking_programme(stack, "3/2s")
    u = stack.make_user(p)
    token = stack.session(u)
    resets = []
    for round_ in range(3):
        fresh_window(2, 1.5)
        assert stack.issue(p.api_key, token).status == 204
        assert len(wrong_codes(stack, p, token, 3, 10 * round_)) == 3
        resets.append(assert_429(stack.verify(p.api_key, token, SANDBOX_CODE), 3, 2, longest=8))
        if round_ < 2:
            time.sleep(resets[-1] + 0.1)
    assert resets[0] <= 2 and 2 < resets[1] <= 4 and 4 < resets[2] <= 8, resets
    [[n]] = stack.psql("SELECT count(*) FROM stepup.lockouts WHERE user_id = :'u'", u=u.id)
    assert n == "3"
    # a support desk's reset forgets the day's lock-outs: the next is short again
    stack.ctl("limits", "reset", "--user", u.id)
    fresh_window(2, 1.5)
    assert stack.issue(p.api_key, token).status == 204
    wrong_codes(stack, p, token, 3, 50)
    assert assert_429(stack.verify(p.api_key, token, SANDBOX_CODE), 3, 2) <= 2


def test_limits_show_and_reset_name_what_they_count(stack):
    p = stack.make_programme(retry_seconds=0, issue_limit=100)
    u = stack.make_user(p)
    token = stack.session(u)
    fresh_window(3600, 30)
    assert stack.login_response(p.api_key, u.email, "wrong").status == 403
    assert stack.issue(p.api_key, token).status == 204
    assert stack.issue(p.api_key, token).status == 204
    shown = stack.ctl("limits", "show", "--user", u.id)
    counted = {(c["limit"], c["subject"]): c for c in shown["counted"]}
    assert counted[("challenges-per-user", "user")]["hits"] == 2
    assert counted[("challenges-per-user", "user")]["value"] == "10/1h"
    assert counted[("challenges-per-number", u.mobile)]["hits"] == 2
    assert counted[("login-failures-per-user", "email")]["hits"] == 1
    assert 0 < counted[("challenges-per-user", "user")]["window_resets_in"] <= 3600
    assert stack.ctl("limits", "reset", "--user", u.id)["counters_cleared"] == 3
    shown = stack.ctl("limits", "show", "--user", u.id)
    assert all(c["hits"] in (0, None) for c in shown["counted"]), shown
    r = stack.ctl_run("limits", "reset", "--user", "00000000-0000-4000-8000-000000000000")
    assert r.returncode == 1 and "no user with id" in r.stderr
    assert stack.ctl_run("limits", "show").returncode == 2


def test_an_attacker_with_the_password_gets_no_more_guesses_than_the_bound(stack):
    """README.md, "Abuse resistance": with the defaults, at most 10 wrong
    codes per user are evaluated in any window of 15 minutes before the
    user is locked out.  The attacker logs in, asks for codes and guesses as
    fast as the server lets it, for 8 seconds, inside one window."""
    p = stack.make_programme(sandbox=False)
    u = stack.make_user(p)
    fresh_window(900, 12)
    deadline = time.time() + 8
    refused = guesses = 0
    token, guess = None, 0
    while time.time() < deadline:
        if token is None:
            token = stack.session(u)
        r = stack.issue(p.api_key, token)
        if r.status == 409:  # this session's challenges are used up: log in again
            token = None
            continue
        if r.status == 429:
            refused += 1
            continue
        assert r.status == 204, r
        while time.time() < deadline:
            guess += 1
            r = stack.verify(p.api_key, token, f"{guess:06d}")
            guesses += 1
            if r.status == 429:
                refused += 1
                break
            assert r.status == 409, r
            if r.json["errorCode"] == "CHALLENGE_LIMIT_EXCEEDED":
                break
    assert evaluated_wrong(stack, u) <= 10
    assert evaluated_wrong(stack, u) == 10 and refused > 0, (guesses, refused)
