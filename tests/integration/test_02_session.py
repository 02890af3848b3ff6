"""POST /login_with_password and POST /logout (issue 2, item 4)."""

import re
import time
import uuid

from conftest import GB_MOBILE

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43,}$")


def assert_required(r, field_name):
    assert r.status == 400, r
    assert isinstance(r.json.get("message"), str)
    fields = r.json["syntaxErrors"]["invalidFields"]
    assert {"params": [], "fieldName": field_name, "error": "REQUIRED"} in fields, r


def assert_code_body(r, status):
    assert r.status == status, r
    assert set(r.json) == {"code", "message"}, r
    assert r.json["code"] and r.json["message"]


def test_login_answers_token_identity_and_credentials(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    r = stack.login_response(p.api_key, u.email, u.password)
    assert r.status == 200, r
    body = r.json
    assert set(body) == {"token", "tokenType", "identity", "credentials"}
    assert TOKEN_RE.match(body["token"]), "token must carry at least 256 bits (43 base64url chars)"
    assert body["tokenType"] == "AUTH"
    assert body["identity"] == {"type": "CONSUMER", "id": u.identity_id}
    assert body["credentials"] == {"type": "ROOT", "id": u.id}


def test_authorised_user_has_user_credentials(stack):
    p = stack.make_programme()
    root = stack.make_user(p)
    user = stack.make_user(p, role="USER", identity=root.identity_id)
    assert user.identity_id == root.identity_id
    r = stack.login_response(p.api_key, user.email, user.password)
    assert r.status == 200, r
    assert r.json["identity"] == {"type": "CONSUMER", "id": root.identity_id}
    assert r.json["credentials"] == {"type": "USER", "id": user.id}


def test_every_login_is_a_new_session(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    tokens = {stack.session(u) for _ in range(3)}
    assert len(tokens) == 3


def test_token_and_password_stored_only_as_hashes(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    token = stack.session(u)
    sid = stack.session_id(token)  # found by SHA-256 of the token
    assert uuid.UUID(sid)
    rows = stack.psql("SELECT password_hash FROM stepup.users WHERE id = :'u'", u=u.id)
    assert rows[0][0].startswith("$scrypt$"), rows
    assert u.password not in rows[0][0]


def test_wrong_password_unknown_email_and_inactive_user_are_403(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    wrong = stack.login_response(p.api_key, u.email, u.password + "x")
    unknown = stack.login_response(p.api_key, "nobody-" + u.email, u.password)
    assert_code_body(wrong, 403)
    assert_code_body(unknown, 403)
    # The same answer, so that the response does not tell which emails exist.
    assert wrong.json == unknown.json

    v = stack.make_user(p)
    stack.psql("UPDATE stepup.users SET active = false WHERE id = :'u'", u=v.id)
    assert_code_body(stack.login_response(p.api_key, v.email, v.password), 403)


def test_user_of_another_programme_cannot_log_in(stack):
    p = stack.make_programme()
    q = stack.make_programme()
    u = stack.make_user(p)
    assert_code_body(stack.login_response(q.api_key, u.email, u.password), 403)


def test_login_bad_bodies_are_400(stack):
    p = stack.make_programme()
    cases = [
        ({"password": {"value": "x"}}, "email"),
        ({"email": "a@example.com"}, "password.value"),
        ({"email": "a@example.com", "password": {}}, "password.value"),
        ({"email": "a@example.com", "password": "flat"}, "password.value"),
    ]
    for body, name in cases:
        assert_required(stack.request("POST", "/login_with_password", api_key=p.api_key,
                                      body=body), name)
    r = stack.request("POST", "/login_with_password", api_key=p.api_key, body={})
    assert r.status == 400, r
    names = {f["fieldName"] for f in r.json["syntaxErrors"]["invalidFields"]}
    assert "email" in names, r
    for raw in ("not json", "", "[1,2]", '{"email": '):
        r = stack.request("POST", "/login_with_password", api_key=p.api_key, body=raw,
                          headers={"Content-Type": "application/json"})
        assert r.status == 400, (raw, r)
        assert "syntaxErrors" in r.json and "message" in r.json, r


def test_login_api_key_missing_is_400_unknown_is_401(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    body = {"email": u.email, "password": {"value": u.password}}
    for headers in ({}, {"api-key": ""}):
        r = stack.request("POST", "/login_with_password", headers=headers, body=body)
        assert_required(r, "api-key")
        assert r.json["syntaxErrors"]["invalidFields"][0] == \
            {"params": [], "fieldName": "api-key", "error": "REQUIRED"}
    assert_code_body(stack.request("POST", "/login_with_password", api_key="no-such-key",
                                   body=body), 401)


def test_logout_ends_the_session_everywhere(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    token = stack.session(u)
    other = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    r = stack.request("POST", "/logout", api_key=p.api_key, token=token)
    assert r.status == 204, r
    assert_code_body(stack.issue(p.api_key, token), 401)
    assert_code_body(stack.request("POST", "/logout", api_key=p.api_key, token=token), 401)
    # Only that session ended.
    assert stack.issue(p.api_key, other).status == 204


def test_logout_needs_api_key_and_token(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    token = stack.session(u)
    assert_required(stack.request("POST", "/logout", token=token), "api-key")
    assert_code_body(stack.request("POST", "/logout", api_key="no-such-key", token=token), 401)
    assert_code_body(stack.request("POST", "/logout", api_key=p.api_key), 401)
    assert_code_body(stack.request("POST", "/logout", api_key=p.api_key, token="x" * 43), 401)
    # The session survived all of that.
    assert stack.issue(p.api_key, token).status == 204


def test_session_expires_after_its_ttl(stack):
    p = stack.make_programme(session_ttl=1)
    u = stack.make_user(p)
    token = stack.session(u)
    time.sleep(2.2)
    assert_code_body(stack.issue(p.api_key, token), 401)
    assert_code_body(stack.request("POST", "/logout", api_key=p.api_key, token=token), 401)
    # A new login works (with a timeout a busy machine cannot outrun).
    stack.ctl("programme", "set", p.id, "--session-ttl", "3600")
    assert stack.issue(p.api_key, stack.session(u)).status == 204


def test_session_ttl_counts_from_last_activity(stack):
    p = stack.make_programme(session_ttl=4, retry_seconds=1, issue_limit=5)
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    time.sleep(2.5)
    assert stack.issue(p.api_key, token).status == 204  # activity at t=2.5
    time.sleep(2.5)
    assert stack.issue(p.api_key, token).status == 204  # t=5: alive thanks to activity
    time.sleep(5)
    assert_code_body(stack.issue(p.api_key, token), 401)
