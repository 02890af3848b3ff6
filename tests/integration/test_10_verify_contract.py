"""POST /stepup/challenges/otp/{channel}/verify and
POST /authentication_factors/otp/{channel}/verify: the checks before any
code is compared, in the order the contract gives (issue 3 items 1 and 2),
each one also shown to come before the next.  Both endpoints share them, so
every test runs against both."""

import pytest

from conftest import GB_MOBILE, SANDBOX_CODE

KINDS = ("stepup", "enrolment")
API_KEY_REQUIRED = {"params": [], "fieldName": "api-key", "error": "REQUIRED"}


def invalid(field, error, params=()):
    return {"message": "Invalid request",
            "syntaxErrors": {"invalidFields": [
                {"params": list(params), "fieldName": field, "error": error}]}}


CHANNEL_REQUIRED = invalid("channel", "REQUIRED")
CHANNEL_NOT_IN = invalid("channel", "NOT_IN")
CODE_REQUIRED = invalid("verificationCode", "REQUIRED")
CODE_SIZE = invalid("verificationCode", "SIZE", ["6", "6"])
CODE_REGEX = invalid("verificationCode", "REGEX")

# Bodies and the 400 each gives.
REQUIRED_BODIES = [None, "x", "{", "null", "[]", '"123456"', "123456", {}, {"code": "123456"},
                   {"verificationCode": None}, {"VerificationCode": "123456"}]
SIZE_BODIES = [{"verificationCode": c} for c in ("", "1", "12345", "1234567", "0123456789")]
REGEX_BODIES = [{"verificationCode": c} for c in
                ("12345a", "abcdef", " 12345", "12345 ", "12 456", "-12345", "+12345",
                 "12.456", "0x1234")] + \
               [{"verificationCode": v} for v in (123456, 123456.0, True, False, [], ["123456"],
                                                  {"value": "123456"})]


def verify(stack, kind, api_key, token, channel="SMS", **kw):
    if kind == "stepup":
        return stack.verify(api_key, token, channel=channel, **kw)
    return stack.enrol_verify(api_key, token, channel=channel, **kw)


def ready(stack, kind, **opts):
    """A programme, a user (enrolled for step-up, not for enrolment) and a
    session with a pending sandbox challenge of the kind (unless
    challenge=False)."""
    challenge = opts.pop("challenge", True)
    enrol = opts.pop("enrol", kind == "stepup")
    mobile = opts.pop("mobile", GB_MOBILE)
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=mobile, enrol=enrol)
    token = stack.session(u)
    if challenge:
        r = stack.issue(p.api_key, token) if kind == "stepup" else stack.enrol(p.api_key, token)
        assert r.status == 204, r
    return p, u, token


def assert_code_body(r, status):
    assert r.status == status, r
    assert set(r.json) == {"code", "message"}, r


def assert_409(r, code):
    assert r.status == 409, r
    assert r.json == {"errorCode": code}, r


def attempts(stack, token):
    rows = stack.psql("SELECT coalesce(sum(c.attempts), 0) FROM stepup.challenges c"
                      " WHERE c.session_id = :'s'", s=stack.session_id(token))
    return int(rows[0][0])


# -- routing ----------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_other_methods_are_405(stack, kind):
    p, u, token = ready(stack, kind)
    path = ("/stepup/challenges/otp/SMS/verify" if kind == "stepup"
            else "/authentication_factors/otp/SMS/verify")
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        r = stack.request(method, path, api_key=p.api_key, token=token)
        assert_code_body(r, 405)


# -- api-key, token, tenancy: before the channel and the body ----------------
@pytest.mark.parametrize("kind", KINDS)
def test_api_key_missing_or_empty_is_400_before_everything(stack, kind):
    p, u, token = ready(stack, kind)
    for headers in ({}, {"api-key": ""}):
        for channel in ("SMS", "EMAIL", ""):
            for tok in (None, token, "junk"):
                for body in ({"verificationCode": "x"}, None):
                    r = verify(stack, kind, None, tok, channel=channel, headers=headers,
                               body=body)
                    assert r.status == 400, r
                    assert r.json["syntaxErrors"]["invalidFields"] == [API_KEY_REQUIRED], r
    assert attempts(stack, token) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_api_key_unknown_is_401(stack, kind):
    p, u, token = ready(stack, kind)
    for channel in ("SMS", "EMAIL", ""):
        for tok in (None, token):
            for body in ({"verificationCode": "12"}, "x"):
                assert_code_body(verify(stack, kind, "no-such-key", tok, channel=channel,
                                        body=body), 401)


@pytest.mark.parametrize("kind", KINDS)
def test_token_missing_unknown_or_logged_out_is_401(stack, kind):
    p, u, token = ready(stack, kind)
    values = [None, "", "Bearer", "Bearer null", "Bearer x", token, "Basic dXNlcjpwdw=="]
    for channel in ("SMS", "EMAIL", ""):
        for value in values:
            headers = {} if value is None else {"Authorization": value}
            for body in ({"verificationCode": "abc"}, None):
                assert_code_body(verify(stack, kind, p.api_key, None, channel=channel,
                                        headers=headers, body=body), 401)
    assert stack.request("POST", "/logout", api_key=p.api_key, token=token).status == 204
    for channel in ("SMS", "EMAIL", ""):
        assert_code_body(verify(stack, kind, p.api_key, token, channel=channel), 401)
        assert_code_body(verify(stack, kind, p.api_key, token, channel=channel,
                                body="not json"), 401)


@pytest.mark.parametrize("kind", KINDS)
def test_token_of_another_programme_is_403(stack, kind):
    p, u, token = ready(stack, kind)
    q, v, other = ready(stack, kind)
    for channel in ("SMS", "EMAIL", ""):
        for body in ({"verificationCode": SANDBOX_CODE}, "x"):
            assert_code_body(verify(stack, kind, p.api_key, other, channel=channel,
                                    body=body), 403)
            assert_code_body(verify(stack, kind, q.api_key, token, channel=channel,
                                    body=body), 403)
    assert attempts(stack, token) == 0 and attempts(stack, other) == 0
    # Both sessions still verify with their own keys.
    assert verify(stack, kind, p.api_key, token).status == 204
    assert verify(stack, kind, q.api_key, other).status == 204


@pytest.mark.parametrize("kind", KINDS)
def test_impersonation_token_is_403(stack, kind):
    p, u, token = ready(stack, kind)
    imp = stack.impersonate(u)
    for channel in ("SMS", "EMAIL", ""):
        for body in ({"verificationCode": SANDBOX_CODE}, {"verificationCode": "1"}, "x"):
            assert_code_body(verify(stack, kind, p.api_key, imp, channel=channel, body=body),
                             403)
    assert verify(stack, kind, p.api_key, token).status == 204


# -- channel: before the body -------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_empty_channel_is_400_required(stack, kind):
    p, u, token = ready(stack, kind)
    for body in (None, {"verificationCode": SANDBOX_CODE}, {"verificationCode": "1"}, "x"):
        r = verify(stack, kind, p.api_key, token, channel="", body=body)
        assert r.status == 400 and r.json == CHANNEL_REQUIRED, r
    assert attempts(stack, token) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_channel_other_than_sms_is_400_not_in(stack, kind):
    p, u, token = ready(stack, kind)
    for channel in ("EMAIL", "sms", "Sms", "VOICE", "SMS2"):
        for body in ({"verificationCode": SANDBOX_CODE}, None, {"verificationCode": "1"}):
            r = verify(stack, kind, p.api_key, token, channel=channel, body=body)
            assert r.status == 400 and r.json == CHANNEL_NOT_IN, (channel, r)
    assert attempts(stack, token) == 0
    assert verify(stack, kind, p.api_key, token).status == 204


# -- body -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_body_without_a_code_is_400_required(stack, kind):
    p, u, token = ready(stack, kind)
    for body in REQUIRED_BODIES:
        r = verify(stack, kind, p.api_key, token, body=body)
        assert r.status == 400 and r.json == CODE_REQUIRED, (body, r)
    assert attempts(stack, token) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_code_not_six_characters_is_400_size(stack, kind):
    p, u, token = ready(stack, kind)
    for body in SIZE_BODIES:
        r = verify(stack, kind, p.api_key, token, body=body)
        assert r.status == 400 and r.json == CODE_SIZE, (body, r)
    assert attempts(stack, token) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_code_not_six_digits_is_400_regex(stack, kind):
    p, u, token = ready(stack, kind)
    for body in REGEX_BODIES:
        r = verify(stack, kind, p.api_key, token, body=body)
        assert r.status == 400 and r.json == CODE_REGEX, (body, r)
    assert attempts(stack, token) == 0
    # None of that counted as an attempt: the right code still works.
    assert verify(stack, kind, p.api_key, token).status == 204


@pytest.mark.parametrize("kind", KINDS)
def test_body_check_comes_before_the_409s(stack, kind):
    # SMS off, nothing enrolled, no challenge: still the 400s first.
    p, u, token = ready(stack, kind, sms=False, enrol=False, challenge=False)
    for body, expected in ((None, CODE_REQUIRED), ({"verificationCode": "1"}, CODE_SIZE),
                           ({"verificationCode": "abcdef"}, CODE_REGEX)):
        r = verify(stack, kind, p.api_key, token, body=body)
        assert r.status == 400 and r.json == expected, r
    assert_409(verify(stack, kind, p.api_key, token), "CHANNEL_NOT_SUPPORTED")


@pytest.mark.parametrize("kind", KINDS)
def test_extra_fields_are_ignored(stack, kind):
    p, u, token = ready(stack, kind)
    r = verify(stack, kind, p.api_key, token,
               body={"verificationCode": SANDBOX_CODE, "channel": "EMAIL", "x": [1]})
    assert r.status == 204, r


# -- 409s before the code is compared -----------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_channel_not_supported(stack, kind):
    p, u, token = ready(stack, kind)
    stack.ctl("programme", "set", p.id, "--no-sms")
    assert_409(verify(stack, kind, p.api_key, token), "CHANNEL_NOT_SUPPORTED")
    assert_409(verify(stack, kind, p.api_key, token, code="000000"), "CHANNEL_NOT_SUPPORTED")
    assert attempts(stack, token) == 0
    # SMS back on: the challenge is still there, uncounted.
    stack.ctl("programme", "set", p.id, "--sms")
    assert verify(stack, kind, p.api_key, token).status == 204


def test_stepup_channel_not_registered(stack):
    p, u, token = ready(stack, "stepup")
    # The factor goes away after the code was sent (a new number on file).
    stack.ctl("user", "set-mobile", u.id, "+447400123999")
    assert_409(stack.verify(p.api_key, token), "CHANNEL_NOT_REGISTERED")
    # Never enrolled at all; and SMS off comes first.
    q, v, tok2 = ready(stack, "stepup", enrol=False, challenge=False)
    assert_409(stack.verify(q.api_key, tok2), "CHANNEL_NOT_REGISTERED")
    stack.ctl("programme", "set", q.id, "--no-sms")
    assert_409(stack.verify(q.api_key, tok2), "CHANNEL_NOT_SUPPORTED")


def test_enrolment_verify_has_no_channel_not_registered(stack):
    # Enrolment is how a factor gets registered: without one, no challenge.
    p, u, token = ready(stack, "enrolment", challenge=False)
    assert_409(stack.enrol_verify(p.api_key, token), "STATE_INVALID")


@pytest.mark.parametrize("kind", KINDS)
def test_state_invalid_without_a_challenge(stack, kind):
    p, u, token = ready(stack, kind, challenge=False)
    for code in (SANDBOX_CODE, "000000"):
        assert_409(verify(stack, kind, p.api_key, token, code=code), "STATE_INVALID")
    # A challenge of another session of the same user is not this session's.
    other = stack.session(u)
    r = stack.issue(p.api_key, other) if kind == "stepup" else stack.enrol(p.api_key, other)
    assert r.status == 204
    assert_409(verify(stack, kind, p.api_key, token), "STATE_INVALID")
    assert verify(stack, kind, p.api_key, other).status == 204


def test_a_challenge_of_the_other_purpose_does_not_count(stack):
    p, u, token = ready(stack, "stepup")  # a pending step-up challenge
    assert_409(stack.enrol_verify(p.api_key, token), "STATE_INVALID")
    q, v, tok2 = ready(stack, "enrolment")  # a pending enrolment challenge
    stack.ctl("user", "enrol", "--user", v.id)  # registered, but no step-up challenge
    assert_409(stack.verify(q.api_key, tok2), "STATE_INVALID")
    assert stack.verify(p.api_key, token).status == 204
