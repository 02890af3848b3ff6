"""The step-up gate (issue 3 item 5): lighttpd asks stepup-fcgi, in its
FastCGI Authorizer role, before it serves the example legacy application
under /legacy/ (httpd-conf/lighttpd.conf.in, httpd-conf/legacy/).

Age expiry: the test stack runs with the default gate_max_age_seconds
(300).  Instead of waiting five minutes or starting a second stack with a
short setting, the tests move the session's stepped_up_at back in the
database: the gate compares that timestamp with now() on every request, so
this is exactly what time passing looks like to it."""

import json
import re

import pytest

from conftest import GB_MOBILE, SANDBOX_CODE, UUID_RE, config_value

GATE_MAX_AGE = 300  # stepup.conf default; the test stack does not set it
INDEX = "/legacy/"
CGI = "/legacy/whoami.cgi"


def cgi_vars(text):
    return dict(re.findall(r"^([A-Z_]+)=(.*)$", text, re.M))


def assert_refused(resp, status, code=None):
    """A refusal of the gate: stepup-fcgi's own JSON answer, passed on by
    the web server, never a page of the application."""
    got, headers, text = resp
    assert got == status, (got, text)
    # One request-ref (the web server may not merge in another answer's).
    assert UUID_RE.match(headers.get("request-ref", "")), headers.get_all("request-ref")
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    body = json.loads(text)
    assert set(body) == {"code", "message"}, body
    if code is not None:
        assert body["code"] == code, body
    assert "STEPUP_USER_ID" not in text and "Legacy application" not in text


def assert_page(resp):
    status, headers, text = resp
    assert status == 200, (status, text)
    assert headers.get("Content-Type", "").startswith("text/html"), headers
    assert "Legacy application" in text
    return text


def ready(stack, **opts):
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=GB_MOBILE)
    return p, u, stack.session(u)


def step_up(stack, p, token):
    assert stack.issue(p.api_key, token).status == 204
    assert stack.verify(p.api_key, token, SANDBOX_CODE).status == 204


def age_step_up(stack, token, seconds):
    """Make the session's step-up seconds old."""
    stack.psql("UPDATE stepup.sessions SET stepped_up_at = now() - make_interval(secs => :s)"
               " WHERE id = :'id'", s=seconds, id=stack.session_id(token))


def test_the_stack_uses_the_default_gate_age(stack):
    # as stepup-fcgi reads the stack's file: the default, 300 (README.md)
    assert config_value("stepup-fcgi", stack.conf_path, "gate_max_age_seconds") == "300"


def test_no_token_is_401(stack):
    for path in (INDEX, CGI, "/legacy", "/legacy/index.html", "/legacy/no-such-file"):
        assert_refused(stack.page(path), 401, "UNAUTHORISED")
        for value in ("", "Bearer", "Bearer null", "Basic dXNlcjpwdw=="):
            assert_refused(stack.page(path, headers={"Authorization": value}), 401)


def test_unknown_expired_or_logged_out_token_is_401(stack):
    p, u, token = ready(stack, session_ttl=300)
    step_up(stack, p, token)
    assert_page(stack.page(INDEX, token))
    assert_refused(stack.page(INDEX, "x" + token), 401)
    assert_refused(stack.page(INDEX, "A" * 43), 401)
    # Idle past the session's lifetime.
    stack.psql("UPDATE stepup.sessions SET expires_at = now() - interval '1 second'"
               " WHERE id = :'s'", s=stack.session_id(token))
    assert_refused(stack.page(INDEX, token), 401)
    # Logged out.
    other = stack.session(u)
    step_up(stack, p, other)
    assert_page(stack.page(INDEX, other))
    assert stack.request("POST", "/logout", api_key=p.api_key, token=other).status == 204
    assert_refused(stack.page(INDEX, other), 401)
    assert_refused(stack.page(CGI, other), 401)


def test_logged_in_but_not_stepped_up_is_403(stack):
    p, u, token = ready(stack)
    for path in (INDEX, CGI, "/legacy", "/legacy/no-such-file"):
        assert_refused(stack.page(path, token), 403, "STEP_UP_REQUIRED")
    # A challenge issued but not verified, or wrongly verified: still 403.
    assert stack.issue(p.api_key, token).status == 204
    assert_refused(stack.page(INDEX, token), 403, "STEP_UP_REQUIRED")
    assert stack.verify(p.api_key, token, "000000").status == 409
    assert_refused(stack.page(INDEX, token), 403, "STEP_UP_REQUIRED")


def test_impersonation_is_403(stack):
    p, u, token = ready(stack)
    step_up(stack, p, token)
    imp = stack.impersonate(u)
    assert_refused(stack.page(INDEX, imp), 403, "STEP_UP_REQUIRED")


def test_stepped_up_session_gets_the_page_and_the_cgi_its_ids(stack):
    p, u, token = ready(stack)
    step_up(stack, p, token)
    text = assert_page(stack.page(INDEX, token))
    assert text == assert_page(stack.page("/legacy/index.html", token))
    status, headers, text = stack.page(CGI, token)
    assert status == 200, text
    assert headers.get("Content-Type", "").startswith("text/plain"), headers
    got = cgi_vars(text)
    assert got["STEPUP_USER_ID"] == u.id
    assert got["STEPUP_IDENTITY_ID"] == u.identity_id
    assert got["STEPUP_PROGRAMME_ID"] == p.id
    assert got["REQUEST_METHOD"] == "GET"
    # A POST with a body reaches the application as well.
    status, headers, text = stack.page(CGI, token, method="POST", body="a=1",
                                       headers={"Content-Type":
                                                "application/x-www-form-urlencoded"})
    assert status == 200, text
    assert cgi_vars(text)["REQUEST_METHOD"] == "POST"
    assert cgi_vars(text)["STEPUP_USER_ID"] == u.id
    # No api-key needed; one given changes nothing.
    assert_page(stack.page(INDEX, token, headers={"api-key": "whatever"}))


def test_the_ids_are_those_of_the_caller(stack):
    # Two users of one identity in one programme, and a user of another
    # programme: each sees their own ids.
    p, u, token = ready(stack)
    v = stack.make_user(p, mobile=GB_MOBILE, role="USER", identity=u.identity_id)
    q, w, tok_w = ready(stack)
    tok_v = stack.session(v)
    for prog, tok in ((p, token), (p, tok_v), (q, tok_w)):
        step_up(stack, prog, tok)
    seen = {}
    for user, prog, tok in ((u, p, token), (v, p, tok_v), (w, q, tok_w)):
        got = cgi_vars(stack.page(CGI, tok)[2])
        assert (got["STEPUP_USER_ID"], got["STEPUP_IDENTITY_ID"], got["STEPUP_PROGRAMME_ID"]) \
            == (user.id, user.identity_id, prog.id)
        seen[user.id] = got
    assert seen[u.id]["STEPUP_IDENTITY_ID"] == seen[v.id]["STEPUP_IDENTITY_ID"]


def test_client_headers_cannot_forge_the_variables(stack):
    p, u, token = ready(stack)
    step_up(stack, p, token)
    forged = "00000000-0000-4000-8000-000000000000"
    status, _, text = stack.page(CGI, token, headers={
        "Variable-STEPUP_USER_ID": forged, "STEPUP_USER_ID": forged,
        "Stepup-User-Id": forged})
    assert status == 200
    assert cgi_vars(text)["STEPUP_USER_ID"] == u.id
    # Not stepped up: forged headers do not help either.
    other = stack.session(u)
    assert_refused(stack.page(CGI, other, headers={"Variable-STEPUP_USER_ID": forged}), 403)


def test_only_the_stepped_up_session_passes(stack):
    p, u, token = ready(stack)
    other = stack.session(u)
    step_up(stack, p, token)
    assert_page(stack.page(INDEX, token))
    assert_refused(stack.page(INDEX, other), 403, "STEP_UP_REQUIRED")


def test_gate_age(stack):
    p, u, token = ready(stack)
    step_up(stack, p, token)
    age_step_up(stack, token, GATE_MAX_AGE - 10)
    assert_page(stack.page(INDEX, token))
    age_step_up(stack, token, GATE_MAX_AGE + 1)
    assert_refused(stack.page(INDEX, token), 403, "STEP_UP_REQUIRED")
    assert_refused(stack.page(CGI, token), 403, "STEP_UP_REQUIRED")
    # Stepping up again opens the gate again (a new challenge, a new verify).
    stack.ctl("programme", "set", p.id, "--retry-seconds", "0")
    step_up(stack, p, token)
    assert_page(stack.page(INDEX, token))


def test_paths_outside_legacy_still_go_to_the_api(stack):
    p, u, token = ready(stack)
    step_up(stack, p, token)
    r = stack.request("GET", "/health")
    assert (r.status, r.json) == (200, {"status": "ok"})
    for path in ("/legacyx", "/LEGACY/", "/index.html", "/legacy.html", "/whoami.cgi"):
        r = stack.request("GET", path, token=token)
        assert r.status == 404, (path, r)
        assert r.json["code"] == "NOT_FOUND", r


@pytest.mark.parametrize("path", ["/%6cegacy/", "/x/../legacy/", "/legacy/./whoami.cgi",
                                  "//legacy/whoami.cgi", "/legacy//whoami.cgi",
                                  "/%6Cegacy/whoami%2Ecgi"])
def test_spellings_of_the_path_are_gated_too(stack, path):
    assert_refused(stack.page(path), 401)
    p, u, token = ready(stack)
    assert_refused(stack.page(path, token), 403)
    step_up(stack, p, token)
    status, _, text = stack.page(path, token)
    assert status == 200, (path, status, text)


def test_gate_answers_are_logged_without_the_token(stack):
    p, u, token = ready(stack)
    step_up(stack, p, token)
    status, _, _ = stack.page("/legacy/?gate-log-probe", token)
    assert status == 200
    log = stack.fcgi_log().read_text()
    lines = [line for line in log.splitlines() if "/legacy/" in line and "-> 200" in line]
    assert lines, "no log line of the gate's 200"
    assert token not in log
