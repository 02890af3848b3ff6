"""Enrolment (POST /authentication_factors/otp/{channel} and its /verify)
and the factor list (GET /authentication_factors): issue 3 items 2 and 3."""

import re
import time
import uuid

from conftest import GB_LANDLINE, GB_MOBILE, GG_MOBILE, MT_MOBILE, SANDBOX_CODE

SMS = {"type": "OTP", "channel": "SMS"}
NOTHING = {}


def factors_of(status):
    return {"factors": [dict(SMS, status=status)]}


def assert_409(r, code):
    assert r.status == 409, r
    assert r.json == {"errorCode": code}, r


def assert_code_body(r, status):
    assert r.status == status, r
    assert set(r.json) == {"code", "message"}, r


def listed(stack, p, token):
    r = stack.factors(p.api_key, token)
    assert r.status == 200, r
    return r.json


def fresh(stack, mobile=GB_MOBILE, **opts):
    """A programme and a user who never enrolled, logged in."""
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=mobile, enrol=False)
    return p, u, stack.session(u)


def enrolment_challenges(stack, token):
    return [c for c in stack.challenges(token) if c["purpose"] == "ENROLMENT"]


# -- the whole flow ----------------------------------------------------------
def test_enrol_verify_then_step_up(stack):
    p, u, token = fresh(stack)
    assert listed(stack, p, token) == NOTHING
    # Not enrolled: no step-up yet.
    assert_409(stack.issue(p.api_key, token), "CHANNEL_NOT_REGISTERED")

    assert stack.enrol(p.api_key, token).status == 204
    assert listed(stack, p, token) == factors_of("PENDING_VERIFICATION")
    [c] = stack.challenges(token)
    assert (c["purpose"], c["status"], c["mobile"], c["sandbox"]) == \
        ("ENROLMENT", "PENDING", GB_MOBILE, "t")
    assert c["code_hash"] == stack.code_hash(token, SANDBOX_CODE)
    # A pending factor is not a registered one.
    assert_409(stack.issue(p.api_key, token), "CHANNEL_NOT_REGISTERED")
    assert_409(stack.verify(p.api_key, token), "CHANNEL_NOT_REGISTERED")

    assert stack.enrol_verify(p.api_key, token, SANDBOX_CODE).status == 204
    assert listed(stack, p, token) == factors_of("ACTIVE")
    assert [c["status"] for c in stack.challenges(token)] == ["VERIFIED"]
    rows = stack.psql("SELECT mobile, mobile_kind, mobile_region FROM stepup.factors"
                      " WHERE user_id = :'u'", u=u.id)
    assert rows == [[GB_MOBILE, "MOBILE", "GB"]]
    # Enrolment steps nothing up ...
    rows = stack.psql("SELECT stepped_up_at IS NULL FROM stepup.sessions WHERE id = :'s'",
                      s=stack.session_id(token))
    assert rows == [["t"]]
    # ... and opened no retry window: a step-up challenge at once.
    assert stack.issue(p.api_key, token).status == 204
    assert stack.verify(p.api_key, token, SANDBOX_CODE).status == 204
    assert_409(stack.enrol(p.api_key, token), "CHANNEL_ALREADY_REGISTERED")


def test_enrolment_outside_sandbox_sends_the_code_through_the_outbox(stack):
    p, u, token = fresh(stack, sandbox=False, mobile=MT_MOBILE)
    assert stack.enrol(p.api_key, token).status == 204
    [row] = stack.outbox(p)
    [c] = stack.challenges(token)
    assert row["challenge_id"] == c["id"] and row["to_number"] == MT_MOBILE
    assert re.fullmatch(r"[0-9]{6}", row["code"])
    assert c["code_hash"] == stack.code_hash(token, row["code"])
    wrong = f"{(int(row['code']) + 1) % 1000000:06d}"
    assert_409(stack.enrol_verify(p.api_key, token, wrong), "VERIFICATION_CODE_INVALID")
    assert stack.enrol_verify(p.api_key, token, row["code"]).status == 204
    assert listed(stack, p, token) == factors_of("ACTIVE")


def test_asking_again_while_pending_sends_a_fresh_code(stack):
    p, u, token = fresh(stack, sandbox=False, retry_seconds=60, issue_limit=1)
    for _ in range(3):  # no retry window, no issue limit for enrolment
        assert stack.enrol(p.api_key, token).status == 204
    assert [c["status"] for c in stack.challenges(token)] == \
        ["SUPERSEDED", "SUPERSEDED", "PENDING"]
    codes = [row["code"] for row in stack.outbox(p)]
    assert len(codes) == 3
    assert listed(stack, p, token) == factors_of("PENDING_VERIFICATION")
    if codes[0] != codes[2]:  # one chance in a million
        assert_409(stack.enrol_verify(p.api_key, token, codes[0]), "VERIFICATION_CODE_INVALID")
    assert stack.enrol_verify(p.api_key, token, codes[2]).status == 204
    # Enrolment did not use up the session's single step-up challenge.
    assert stack.issue(p.api_key, token).status == 204
    rows = stack.psql("SELECT challenges_issued FROM stepup.sessions WHERE id = :'s'",
                      s=stack.session_id(token))
    assert rows == [["1"]]


def test_a_step_up_challenge_does_not_block_enrolment_and_vice_versa(stack):
    p, u, token = fresh(stack, retry_seconds=60)
    stack.ctl("user", "enrol", "--user", u.id)
    assert stack.issue(p.api_key, token).status == 204
    # Move the user to a new number: the factor is INACTIVE, re-enrol at once.
    stack.ctl("user", "set-mobile", u.id, GG_MOBILE)
    assert listed(stack, p, token) == factors_of("INACTIVE")
    assert stack.enrol(p.api_key, token).status == 204
    assert listed(stack, p, token) == factors_of("PENDING_VERIFICATION")
    assert stack.enrol_verify(p.api_key, token).status == 204
    assert listed(stack, p, token) == factors_of("ACTIVE")
    rows = stack.psql("SELECT mobile, mobile_region FROM stepup.factors WHERE user_id = :'u'",
                      u=u.id)
    assert rows == [[GG_MOBILE, "GG"]]


# -- the 409s of POST /authentication_factors/otp/SMS ---------------------------
def test_channel_not_supported(stack):
    p, u, token = fresh(stack, sms=False)
    assert_409(stack.enrol(p.api_key, token), "CHANNEL_NOT_SUPPORTED")
    # Before every other 409.
    q = stack.make_programme(sms=False, countries="MT")
    for mobile in (None, GB_LANDLINE, GB_MOBILE):
        v = stack.make_user(q, mobile=mobile, enrol=False)
        assert_409(stack.enrol(q.api_key, stack.session(v)), "CHANNEL_NOT_SUPPORTED")
    w = stack.make_user(q, mobile=MT_MOBILE)
    assert_409(stack.enrol(q.api_key, stack.session(w)), "CHANNEL_NOT_SUPPORTED")
    assert stack.challenges(token) == []


def test_channel_already_registered(stack):
    p = stack.make_programme()
    u = stack.make_user(p, mobile=GB_MOBILE, enrol=True)
    token = stack.session(u)
    assert listed(stack, p, token) == factors_of("ACTIVE")
    assert_409(stack.enrol(p.api_key, token), "CHANNEL_ALREADY_REGISTERED")
    assert stack.challenges(token) == []


def test_mobile_number_not_available(stack):
    p, u, token = fresh(stack, mobile=None)
    assert_409(stack.enrol(p.api_key, token), "MOBILE_NUMBER_NOT_AVAILABLE")
    assert listed(stack, p, token) == NOTHING
    # A number on file makes it possible.
    stack.ctl("user", "set-mobile", u.id, GB_MOBILE)
    assert stack.enrol(p.api_key, token).status == 204


def test_mobile_number_invalid(stack):
    for mobile in (GB_LANDLINE, "+447911555555"):  # a landline; an unallocated range
        p, u, token = fresh(stack, mobile=mobile, countries="MT")  # before the country
        assert_409(stack.enrol(p.api_key, token), "MOBILE_NUMBER_INVALID")
        assert listed(stack, p, token) == NOTHING
        assert stack.challenges(token) == []


def test_mobile_country_not_supported(stack):
    # +44 7911 1xxxxx is a Guernsey number, whatever its prefix says.
    p, u, token = fresh(stack, mobile=GG_MOBILE, countries="GB")
    assert_409(stack.enrol(p.api_key, token), "MOBILE_COUNTRY_NOT_SUPPORTED")
    assert listed(stack, p, token) == NOTHING
    stack.ctl("programme", "set", p.id, "--countries", "GB,GG")
    assert stack.enrol(p.api_key, token).status == 204


def test_a_user_deactivated_in_sql_is_refused(stack):
    # A session that outlived its user's deactivation (made by plain SQL:
    # `stepupctl user deactivate` would have ended the session as well) is
    # no live session (issue 8), until the user is active again.
    p, u, token = fresh(stack)
    stack.psql("UPDATE stepup.users SET active = false WHERE id = :'u'", u=u.id)
    assert stack.enrol(p.api_key, token).status == 401
    assert stack.challenges(token) == []
    stack.psql("UPDATE stepup.users SET active = true WHERE id = :'u'", u=u.id)
    assert stack.enrol(p.api_key, token).status == 204


# -- checks before the 409s ------------------------------------------------------
def test_enrol_auth_and_channel_checks(stack):
    p, u, token = fresh(stack)
    q, v, other = fresh(stack)
    r = stack.enrol(None, token)
    assert r.status == 400 and \
        r.json["syntaxErrors"]["invalidFields"][0]["fieldName"] == "api-key", r
    assert_code_body(stack.enrol("no-such-key", token), 401)
    for tok in (None, "junk"):
        assert_code_body(stack.enrol(p.api_key, tok), 401)
        assert_code_body(stack.enrol(p.api_key, tok, channel="EMAIL"), 401)
    assert_code_body(stack.enrol(p.api_key, other), 403)
    assert_code_body(stack.enrol(q.api_key, token), 403)
    imp = stack.impersonate(u)
    assert_code_body(stack.enrol(p.api_key, imp), 403)
    assert_code_body(stack.enrol(p.api_key, imp, channel="EMAIL"), 403)
    for channel in ("EMAIL", "sms"):
        r = stack.enrol(p.api_key, token, channel=channel)
        assert r.status == 400, r
        assert r.json["syntaxErrors"]["invalidFields"] == \
            [{"params": [], "fieldName": "channel", "error": "NOT_IN"}], r
    # An empty channel is another path (as for issuing): 404.
    r = stack.request("POST", "/authentication_factors/otp/", api_key=p.api_key, token=token,
                      body="")
    assert_code_body(r, 404)
    assert_code_body(stack.request("GET", "/authentication_factors/otp/SMS",
                                   api_key=p.api_key, token=token), 405)
    assert stack.challenges(token) == []
    assert stack.enrol(p.api_key, token).status == 204


def test_enrol_idempotent_replay(stack):
    p, u, token = fresh(stack, sandbox=False)
    ref = str(uuid.uuid4())
    assert stack.enrol(p.api_key, token, idem=ref).status == 204
    assert stack.enrol(p.api_key, token, idem=ref).status == 204
    assert len(stack.challenges(token)) == 1 and len(stack.outbox(p)) == 1
    assert stack.enrol(p.api_key, token, idem=str(uuid.uuid4())).status == 204
    assert len(stack.challenges(token)) == 2


# -- verifying an enrolment: the same rules as a step-up ---------------------------
def test_enrolment_attempt_rule(stack):
    p, u, token = fresh(stack, verify_attempts=3)
    assert stack.enrol(p.api_key, token).status == 204
    got = [stack.enrol_verify(p.api_key, token, c).json["errorCode"]
           for c in ("000000", "000001", "000002")]
    assert got == ["VERIFICATION_CODE_INVALID", "ONE_CHALLENGE_LIMIT_REMAINING",
                   "CHALLENGE_LIMIT_EXCEEDED"]
    assert_409(stack.enrol_verify(p.api_key, token, SANDBOX_CODE), "STATE_INVALID")
    assert listed(stack, p, token) == factors_of("PENDING_VERIFICATION")
    # A fresh code starts afresh.
    assert stack.enrol(p.api_key, token).status == 204
    assert stack.enrol_verify(p.api_key, token, SANDBOX_CODE).status == 204
    assert listed(stack, p, token) == factors_of("ACTIVE")


def test_enrolment_limit_off(stack):
    p, u, token = fresh(stack, verify_attempts="off", limits={"verify-failures-per-user": "off"})
    assert stack.enrol(p.api_key, token).status == 204
    for i in range(12):
        assert_409(stack.enrol_verify(p.api_key, token, f"{i:06d}"), "VERIFICATION_CODE_INVALID")
    assert stack.enrol_verify(p.api_key, token, SANDBOX_CODE).status == 204


def test_enrolment_expiry_and_already_verified(stack):
    p, u, token = fresh(stack, expiry_seconds=1)
    assert stack.enrol(p.api_key, token).status == 204
    time.sleep(1.3)
    assert_409(stack.enrol_verify(p.api_key, token), "VERIFICATION_CODE_EXPIRED")
    assert listed(stack, p, token) == factors_of("PENDING_VERIFICATION")
    assert stack.enrol(p.api_key, token).status == 204
    assert stack.enrol_verify(p.api_key, token).status == 204
    assert_409(stack.enrol_verify(p.api_key, token), "ALREADY_VERIFIED")
    assert_409(stack.enrol_verify(p.api_key, token, "000000"), "ALREADY_VERIFIED")


def test_enrolment_code_for_an_old_number_is_refused(stack):
    p, u, token = fresh(stack)
    assert stack.enrol(p.api_key, token).status == 204
    stack.ctl("user", "set-mobile", u.id, MT_MOBILE)
    assert_409(stack.enrol_verify(p.api_key, token), "STATE_INVALID")
    assert listed(stack, p, token) == factors_of("INACTIVE")
    assert stack.enrol(p.api_key, token).status == 204
    assert stack.enrol_verify(p.api_key, token).status == 204
    rows = stack.psql("SELECT status, mobile FROM stepup.factors WHERE user_id = :'u'", u=u.id)
    assert rows == [["ACTIVE", MT_MOBILE]]


def test_enrolment_verify_idempotent_replay(stack):
    p, u, token = fresh(stack)
    assert stack.enrol(p.api_key, token).status == 204
    ref = str(uuid.uuid4())
    assert stack.enrol_verify(p.api_key, token, idem=ref).status == 204
    assert stack.enrol_verify(p.api_key, token, idem=ref).status == 204
    assert_409(stack.enrol_verify(p.api_key, token), "ALREADY_VERIFIED")


# -- GET /authentication_factors ------------------------------------------------
def test_factor_list_auth(stack):
    p, u, token = fresh(stack)
    q, v, other = fresh(stack)
    r = stack.factors(None, token)
    assert r.status == 400, r
    assert_code_body(stack.factors("no-such-key", token), 401)
    assert_code_body(stack.factors(p.api_key, None), 401)
    assert_code_body(stack.factors(p.api_key, "junk"), 401)
    assert_code_body(stack.factors(q.api_key, token), 403)
    assert_code_body(stack.factors(p.api_key, other), 403)
    # A back-office (impersonation) session may read.
    imp = stack.impersonate(u)
    r = stack.factors(p.api_key, imp)
    assert (r.status, r.json) == (200, NOTHING), r
    stack.ctl("user", "enrol", "--user", u.id)
    r = stack.factors(p.api_key, imp)
    assert (r.status, r.json) == (200, factors_of("ACTIVE")), r
    assert stack.request("POST", "/logout", api_key=p.api_key, token=token).status == 204
    assert_code_body(stack.factors(p.api_key, token), 401)
    assert_code_body(stack.request("POST", "/authentication_factors", api_key=p.api_key,
                                   token=other, body=""), 405)


def test_factor_list_is_the_users_not_the_identitys(stack):
    p = stack.make_programme()
    root = stack.make_user(p, mobile=GB_MOBILE, enrol=True)
    member = stack.make_user(p, mobile=MT_MOBILE, enrol=False, role="USER",
                             identity=root.identity_id)
    assert listed(stack, p, stack.session(root)) == factors_of("ACTIVE")
    assert listed(stack, p, stack.session(member)) == NOTHING
