"""HTTP basics: /health, request-ref, 404 and 405 with their bodies."""

ISSUE = "/stepup/challenges/otp/SMS"


def assert_code_body(r, status, code):
    assert r.status == status, r
    assert set(r.json) == {"code", "message"}, r
    assert r.json["code"] == code
    assert isinstance(r.json["message"], str) and r.json["message"]


def test_health(stack):
    r = stack.request("GET", "/health")
    assert r.status == 200, r
    assert r.json == {"status": "ok"}


def test_request_ref_is_new_on_every_response(stack):
    refs = {stack.request("GET", "/health").ref for _ in range(5)}
    refs.add(stack.request("GET", "/nope").ref)
    assert len(refs) == 6


def test_unknown_path_is_404(stack):
    for method, path in (("GET", "/nope"), ("POST", "/nope"), ("GET", "/"),
                         ("POST", "/stepup/challenges/otp"),
                         ("POST", "/stepup/challenges"),
                         ("POST", "/stepup/challenges/otp/SMS/nope"),
                         ("POST", "/stepup/challenges/otp/SMS/nope/deeper")):
        assert_code_body(stack.request(method, path), 404, "NOT_FOUND")


def test_empty_channel_is_404_before_any_other_check(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    token = stack.session(u)
    # Fully authenticated, without credentials, with a bad api-key: always 404.
    assert_code_body(stack.issue(p.api_key, token, channel=""), 404, "NOT_FOUND")
    assert_code_body(stack.request("POST", "/stepup/challenges/otp/"), 404, "NOT_FOUND")
    assert_code_body(stack.issue("bad-key", None, channel=""), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    token = stack.session(u)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        # 405 comes before the api-key and token checks.
        for kwargs in ({}, {"api_key": p.api_key, "token": token}):
            r = stack.request(method, ISSUE, **kwargs)
            assert_code_body(r, 405, "METHOD_NOT_ALLOWED")
            allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
            assert "POST" in allow, r.headers.get("Allow")
    # Also for a channel that is not SMS: 405 before the 400 NOT_IN.
    assert_code_body(stack.request("GET", "/stepup/challenges/otp/EMAIL"), 405,
                     "METHOD_NOT_ALLOWED")
    for method, path, allowed in (("GET", "/login_with_password", "POST"),
                                  ("GET", "/logout", "POST"),
                                  ("POST", "/health", "GET")):
        r = stack.request(method, path)
        assert_code_body(r, 405, "METHOD_NOT_ALLOWED")
        assert allowed in r.headers.get("Allow", ""), r.headers.get("Allow")
