"""POST /stepup/challenges/otp/{channel}: every check of issue 2 item 5, in
the order the contract gives, each one also shown to come before the next.
(404 and 405 are in test_01_http.py.)"""

import time

from conftest import GB_LANDLINE, GB_MOBILE, GG_MOBILE, MT_MOBILE

API_KEY_REQUIRED = {"params": [], "fieldName": "api-key", "error": "REQUIRED"}
CHANNEL_NOT_IN = {"message": "Invalid request",
                  "syntaxErrors": {"invalidFields": [
                      {"params": [], "fieldName": "channel", "error": "NOT_IN"}]}}


def assert_code_body(r, status):
    assert r.status == status, r
    assert set(r.json) == {"code", "message"}, r


def assert_409(r, code):
    assert r.status == 409, r
    assert r.json == {"errorCode": code}, r


def ready(stack, **opts):
    """A programme, an enrolled user and a session."""
    mobile = opts.pop("mobile", GB_MOBILE)
    enrol = opts.pop("enrol", True)
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=mobile, enrol=enrol)
    return p, u, stack.session(u)


# -- api-key -----------------------------------------------------------------
def test_api_key_missing_or_empty_is_400(stack):
    p, u, token = ready(stack)
    for headers in ({}, {"api-key": ""}):
        for channel in ("SMS", "EMAIL"):  # before the channel check
            for tok in (None, token, "junk"):  # before the token check
                r = stack.issue(None, tok, channel=channel, headers=headers)
                assert r.status == 400, r
                assert r.json["syntaxErrors"]["invalidFields"][0] == API_KEY_REQUIRED, r
                assert isinstance(r.json["message"], str)


def test_api_key_unknown_is_401(stack):
    p, u, token = ready(stack)
    for channel in ("SMS", "EMAIL"):
        for tok in (None, token, "junk"):
            assert_code_body(stack.issue("no-such-key", tok, channel=channel), 401)


def test_key_of_another_programme_is_known_so_403_not_401(stack):
    # A valid key of another programme is known (401 is only for unknown keys).
    p, u, token = ready(stack)
    q = stack.make_programme()
    assert_code_body(stack.issue(q.api_key, token), 403)


# -- bearer token ------------------------------------------------------------
def test_token_missing_empty_null_or_unknown_is_401(stack):
    p, u, token = ready(stack)
    values = [None, "", "Bearer", "Bearer ", "Bearer null", "Bearer x", "Bearer " + "A" * 43,
              "Basic dXNlcjpwdw==", token, "Bearer  " + token + "x", "null"]
    for channel in ("SMS", "EMAIL"):  # before the channel check
        for value in values:
            headers = {} if value is None else {"Authorization": value}
            assert_code_body(stack.issue(p.api_key, None, channel=channel, headers=headers), 401)
    # The real session is untouched by all that.
    assert stack.issue(p.api_key, token).status == 204


def test_token_expired_or_logged_out_is_401(stack):
    p, u, token = ready(stack, session_ttl=1)
    time.sleep(2.2)
    assert_code_body(stack.issue(p.api_key, token), 401)
    # A session of 1 s could end before the logout below on a busy machine.
    stack.ctl("programme", "set", p.id, "--session-ttl", "3600")
    token = stack.session(u)
    assert stack.request("POST", "/logout", api_key=p.api_key, token=token).status == 204
    assert_code_body(stack.issue(p.api_key, token), 401)
    assert_code_body(stack.issue(p.api_key, token, channel="EMAIL"), 401)


# -- 403 ---------------------------------------------------------------------
def test_token_of_another_programme_is_403(stack):
    p, u, token = ready(stack)
    q, v, other = ready(stack)
    for channel in ("SMS", "EMAIL"):  # before the channel check
        assert_code_body(stack.issue(p.api_key, other, channel=channel), 403)
        assert_code_body(stack.issue(q.api_key, token, channel=channel), 403)
    assert stack.challenges(token) == [] and stack.challenges(other) == []


def test_impersonation_token_is_403(stack):
    p, u, token = ready(stack)
    imp = stack.impersonate(u)
    assert imp != token
    for channel in ("SMS", "EMAIL"):
        assert_code_body(stack.issue(p.api_key, imp, channel=channel), 403)
    assert stack.challenges(imp) == []
    # ... and the user's own session still steps up.
    assert stack.issue(p.api_key, token).status == 204


# -- channel -----------------------------------------------------------------
def test_channel_other_than_sms_is_400_not_in(stack):
    p, u, token = ready(stack)
    for channel in ("EMAIL", "sms", "Sms", "VOICE", "SMS2", "%53MS-"):
        r = stack.issue(p.api_key, token, channel=channel)
        assert r.status == 400, (channel, r)
        assert r.json == CHANNEL_NOT_IN, r
    assert stack.challenges(token) == []


def test_channel_check_comes_before_the_409s(stack):
    p, u, token = ready(stack, sms=False, enrol=False)
    r = stack.issue(p.api_key, token, channel="EMAIL")
    assert r.status == 400 and r.json == CHANNEL_NOT_IN, r


# -- 409s in order -----------------------------------------------------------
def test_channel_not_supported(stack):
    p, u, token = ready(stack, sms=False)
    assert_409(stack.issue(p.api_key, token), "CHANNEL_NOT_SUPPORTED")
    # ... also before CHANNEL_NOT_REGISTERED and MOBILE_NUMBER_INVALID.
    q, v, tok2 = ready(stack, sms=False, enrol=False)
    assert_409(stack.issue(q.api_key, tok2), "CHANNEL_NOT_SUPPORTED")
    r_, w, tok3 = ready(stack, sms=False, mobile=GB_LANDLINE)
    assert_409(stack.issue(r_.api_key, tok3), "CHANNEL_NOT_SUPPORTED")


def test_channel_not_supported_comes_before_the_retry_window(stack):
    p, u, token = ready(stack)
    assert stack.issue(p.api_key, token).status == 204
    stack.ctl("programme", "set", p.id, "--no-sms")
    assert_409(stack.issue(p.api_key, token), "CHANNEL_NOT_SUPPORTED")


def test_channel_not_registered(stack):
    p, u, token = ready(stack, enrol=False)
    assert_409(stack.issue(p.api_key, token), "CHANNEL_NOT_REGISTERED")
    # A user without any number on file.
    v = stack.make_user(p, mobile=None, enrol=False)
    assert_409(stack.issue(p.api_key, stack.session(v)), "CHANNEL_NOT_REGISTERED")
    # Refused calls do not open a retry window: enrol, then 204 at once.
    stack.ctl("user", "enrol", "--user", u.id, "--channel", "SMS")
    assert stack.issue(p.api_key, token).status == 204


def test_mobile_number_invalid(stack):
    p, u, token = ready(stack, mobile=GB_LANDLINE)
    assert_409(stack.issue(p.api_key, token), "MOBILE_NUMBER_INVALID")
    # Before the country allow-list.
    q, v, tok2 = ready(stack, mobile=GB_LANDLINE, countries="MT")
    assert_409(stack.issue(q.api_key, tok2), "MOBILE_NUMBER_INVALID")
    assert stack.challenges(token) == [] and stack.challenges(tok2) == []
    # A number no numbering plan knows (+44 7911 5xxxxx is unallocated).
    r_, w, tok3 = ready(stack, mobile="+447911555555")
    assert_409(stack.issue(r_.api_key, tok3), "MOBILE_NUMBER_INVALID")


def test_mobile_country_not_supported(stack):
    p, u, token = ready(stack, countries="MT")
    assert_409(stack.issue(p.api_key, token), "MOBILE_COUNTRY_NOT_SUPPORTED")
    # A Maltese mobile number is fine in the same programme.
    v = stack.make_user(p, mobile=MT_MOBILE)
    assert stack.issue(p.api_key, stack.session(v)).status == 204
    # Refused calls do not open a retry window: allow GB, then 204 at once.
    stack.ctl("programme", "set", p.id, "--countries", "GB,MT")
    assert stack.issue(p.api_key, token).status == 204


def test_country_comes_from_numbering_plan_data_not_the_prefix(stack):
    # +44 7911 1xxxxx is a Guernsey mobile range: not GB, although it is +44.
    p, u, token = ready(stack, countries="GB", mobile=GG_MOBILE)
    assert_409(stack.issue(p.api_key, token), "MOBILE_COUNTRY_NOT_SUPPORTED")
    stack.ctl("programme", "set", p.id, "--countries", "GB,GG")
    assert stack.issue(p.api_key, token).status == 204


def test_retry_then_limit(stack):
    p, u, token = ready(stack, retry_seconds=1, issue_limit=2)
    assert stack.issue(p.api_key, token).status == 204
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")
    time.sleep(1.2)
    assert stack.issue(p.api_key, token).status == 204
    # Inside the window: RETRY comes before CHALLENGE_LIMIT_EXCEEDED.
    assert_409(stack.issue(p.api_key, token), "RETRY_IN_15SEC")
    time.sleep(1.2)
    assert_409(stack.issue(p.api_key, token), "CHALLENGE_LIMIT_EXCEEDED")
    time.sleep(1.2)
    assert_409(stack.issue(p.api_key, token), "CHALLENGE_LIMIT_EXCEEDED")
    assert len(stack.challenges(token)) == 2
