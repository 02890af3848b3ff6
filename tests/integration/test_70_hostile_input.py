"""Hostile input (issue 12, item 1): a catalogue of malformed requests sent
to every endpoint, each answer's status and body checked, and afterwards
proof that no worker stopped (the same stepup-fcgi processes, GET /health
200) and that nothing was logged as an internal error.

The rules under test (README "Input limits", docs/openapi.yaml):
- every field stepup interprets (email, password.value, verificationCode,
  channel, idempotency-ref, api-key, the bearer token) that is not UTF-8,
  holds a NUL (a JSON "\\u0000" too) or exceeds its size is 400 on that
  field, before the database sees it;
- a body that is not exactly one JSON document (garbage after it, a name
  twice in one object, a name with a NUL, nested deeper than 16, a NUL
  byte) reads as a body without fields: 400 REQUIRED on the first field;
- the User-Agent is only recorded: repaired (U+FFFD) and capped, never
  refused; the Content-Type is not looked at;
- a gate has no fields: a malformed token there is no session (401).
Requests the web server itself refuses (a NUL in a header, overlong
headers) must be refused there, never answered 500.
"""

import http.client
import json
import socket
from dataclasses import dataclass, field

import pytest

import openapi_check
from conftest import SANDBOX_CODE

LOGIN = ("POST", "/login_with_password")
LOGOUT = ("POST", "/logout")
ISSUE = ("POST", "/stepup/challenges/otp/SMS")
VERIFY = ("POST", "/stepup/challenges/otp/SMS/verify")
ENROL = ("POST", "/authentication_factors/otp/SMS")
ENROL_VERIFY = ("POST", "/authentication_factors/otp/SMS/verify")
FACTORS = ("GET", "/authentication_factors")
HEALTH = ("GET", "/health")
GATE = "/legacy/"

AUTHENTICATED = (LOGOUT, ISSUE, VERIFY, ENROL, ENROL_VERIFY, FACTORS)
IDEMPOTENT = (ISSUE, VERIFY, ENROL, ENROL_VERIFY)
VERIFYING = (VERIFY, ENROL_VERIFY)

# What each endpoint answers to an acceptable request in the catalogue's
# state (a pending challenge of each kind, wrong codes not counted).
ACCEPTED = {LOGIN: {200}, LOGOUT: {204}, ISSUE: {204, 409}, VERIFY: {409},
            ENROL: {204, 409}, ENROL_VERIFY: {409}, FACTORS: {200}, HEALTH: {200}}
WRONG_CODE = {"verificationCode": "000000"}

BAD_UTF8 = [b"\xff", b"\xc0\xae", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
DEEP = "[" * 5000 + "]" * 5000


def invalid(field_name, error, params=()):
    return {"message": "Invalid request",
            "syntaxErrors": {"invalidFields": [
                {"params": list(params), "fieldName": field_name, "error": error}]}}


@dataclass
class Case:
    name: str
    endpoint: tuple
    headers: dict = field(default_factory=dict)
    body: object = None  # dict (JSON), str, bytes or None
    status: set = None  # None: the endpoint's ACCEPTED
    field: tuple = None  # (fieldName, error[, params]): the 400's one invalid field
    path: str = None  # instead of the endpoint's
    fresh_session: bool = False  # a session of its own (logout ends it)


def raw_json(text):
    """A JSON text as bytes, written by hand (the hostile part is in it)."""
    return text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text


@pytest.fixture(scope="module")
def world(stack):
    """Two users of one sandbox programme (wrong codes not counted): S,
    enrolled, with a pending step-up challenge; E, not enrolled, with a
    pending enrolment code; and the log's length and the workers' pids
    before any hostile request."""
    p = stack.make_programme(verify_attempts="off",
                             limits={"verify-failures-per-user": "off",
                                     "login-failures-per-user": "off",
                                     "login-per-address": "off"})
    s = stack.make_user(p)
    e = stack.make_user(p, enrol=False)
    s_token, e_token = stack.session(s), stack.session(e)
    assert stack.issue(p.api_key, s_token).status == 204
    assert stack.enrol(p.api_key, e_token).status == 204
    log = stack.fcgi_log()
    return {"programme": p, "s": s, "e": e, "s_token": s_token, "e_token": e_token,
            "pids": stack.fcgi_pids(), "log_offset": log.stat().st_size if log.exists() else 0}


def login_body(email, password):
    return {"email": email, "password": {"value": password}}


def catalogue(world):
    p, s = world["programme"], world["s"]
    right = json.dumps(login_body(s.email, s.password))
    cases = []
    add = cases.append

    # -- login's fields --------------------------------------------------
    add(Case("login as it should be", LOGIN, body=login_body(s.email, s.password)))
    for bad in BAD_UTF8:
        add(Case(f"email with {bad!r}", LOGIN, body=b'{"email":"a' + bad + b'@example.com",'
                 b'"password":{"value":"x"}}', status={400}, field=("email", "REGEX")))
        add(Case(f"password with {bad!r}", LOGIN,
                 body=b'{"email":"a@example.com","password":{"value":"pw' + bad + b'"}}',
                 status={400}, field=("password.value", "REGEX")))
    add(Case("email, then \\u0000 and more", LOGIN,
             body=raw_json('{"email":"%s\\u0000x","password":{"value":"%s"}}'
                           % (s.email, s.password)),
             status={400}, field=("email", "REGEX")))
    add(Case("right password, then \\u0000 and more", LOGIN,
             body=raw_json('{"email":"%s","password":{"value":"%s\\u0000x"}}'
                           % (s.email, s.password)),
             status={400}, field=("password.value", "REGEX")))
    add(Case("password \\u0000", LOGIN,
             body=raw_json('{"email":"%s","password":{"value":"\\u0000"}}' % s.email),
             status={400}, field=("password.value", "REGEX")))
    for n in (255, 5000):
        add(Case(f"email of {n} bytes", LOGIN,
                 body=login_body("a" * (n - 12) + "@example.com", "x"),
                 status={400}, field=("email", "SIZE", ["1", "254"])))
    add(Case("email of 254 bytes is only unknown", LOGIN,
             body=login_body("a" * 242 + "@example.com", "x"), status={403}))
    add(Case("password of 1025 bytes", LOGIN, body=login_body(s.email, "p" * 1025),
             status={400}, field=("password.value", "SIZE", ["1", "1024"])))
    add(Case("password of 1024 bytes is only wrong", LOGIN, body=login_body(s.email, "p" * 1024),
             status={403}))
    for value in (5, 1e300, [], {}, None, True, [s.email]):
        add(Case(f"email {value!r}", LOGIN, body={"email": value, "password": {"value": "x"}},
                 status={400}, field=("email", "REQUIRED")))
        add(Case(f"password {value!r}", LOGIN, body={"email": s.email, "password": {"value": value}},
                 status={400}, field=("password.value", "REQUIRED")))
    add(Case("email a huge number", LOGIN,
             body='{"email":1e999999,"password":{"value":"x"}}', status={400},
             field=("email", "REQUIRED")))
    add(Case("an unread member with bad bytes is ignored", LOGIN,
             body=right[:-1].encode() + b',"x\xff":"\xff\xfe"}'))

    # -- login's document ------------------------------------------------
    not_a_document = [
        ("trailing garbage", right + " x"),
        ("trailing garbage, no space", right + "x"),
        ("a second document", right + right),
        ("a trailing comma", right + ","),
        ("a NUL byte after it", right.encode() + b"\x00"),
        ("a NUL byte in a string", b'{"email":"a\x00b@example.com","password":{"value":"x"}}'),
        ("email twice", '{"email":"x@example.com","email":"%s","password":{"value":"%s"}}'
         % (s.email, s.password)),
        ("email twice, once escaped", '{"email":"x@example.com","\\u0065mail":"%s",'
         '"password":{"value":"%s"}}' % (s.email, s.password)),
        ("password twice", '{"email":"%s","password":{"value":"x"},"password":{"value":"%s"}}'
         % (s.email, s.password)),
        ("value twice", '{"email":"%s","password":{"value":"x","value":"%s"}}'
         % (s.email, s.password)),
        ("a name with \\u0000", '{"email\\u0000x":"%s","password":{"value":"%s"}}'
         % (s.email, s.password)),
        ("nested 10000 deep", '{"email":%s,"password":{"value":"x"}}' % DEEP),
        ("60000 brackets", "[" * 60000),
        ("not JSON", "email=a@example.com&password=x"),
        ("half a document", '{"email": '),
        ("an empty body", ""),
        ("whitespace", " \r\n\t"),
        ("null", "null"),
        ("a string", '"%s"' % s.email),
        ("an array", "[%s]" % right),
        ("invalid UTF-8 only", b"\xff\xfe\xfd"),
        ("a UTF-8 BOM", b"\xef\xbb\xbf" + right.encode()),
        ("a UTF-16 body", right.encode("utf-16")),
    ]
    for name, body in not_a_document:
        add(Case(f"login body: {name}", LOGIN, body=raw_json(body), status={400},
                 field=("email", "REQUIRED")))
    add(Case("login body: whitespace after it is fine", LOGIN, body=right + " \r\n\t"))
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                  "application/json; charset=latin1", "\xff"):
        add(Case(f"login with Content-Type {ctype!r} (not looked at)", LOGIN,
                 headers={"Content-Type": ctype.encode("latin-1")}, body=right))

    # -- verificationCode ------------------------------------------------
    for ep in VERIFYING:
        code_cases = [
            ("123456 then \\u0000", '{"verificationCode":"123456\\u0000"}', "SIZE"),
            ("12345 then \\u0000", '{"verificationCode":"12345\\u0000"}', "REGEX"),
            ("\\u0000 then 23456", '{"verificationCode":"\\u000023456"}', "REGEX"),
            ("six \\u0000", '{"verificationCode":"%s"}' % ("\\u0000" * 6), "REGEX"),
            ("12345 then \\xff", b'{"verificationCode":"12345\xff"}', "REGEX"),
            ("a surrogate", b'{"verificationCode":"1234\xed\xa0\x80"}', "SIZE"),
            ("Arabic-Indic digits", '{"verificationCode":"\u0661\u0662\u0663"}', "REGEX"),
            ("fullwidth digits", '{"verificationCode":"\uff11\uff12"}', "REGEX"),
            ("a huge number", '{"verificationCode":1e999999}', "REGEX"),
            ("a huge integer", '{"verificationCode":123456789012345678901234567890}', "REGEX"),
            ("true", '{"verificationCode":true}', "REGEX"),
            ("an object", '{"verificationCode":{"value":"123456"}}', "REGEX"),
            ("5000 digits", '{"verificationCode":"%s"}' % ("1" * 5000), "SIZE"),
        ]
        for name, body, error in code_cases:
            params = ["6", "6"] if error == "SIZE" else []
            add(Case(f"code {name}", ep, body=raw_json(body), status={400},
                     field=("verificationCode", error, params)))
        code_documents = [
            ("trailing garbage", '{"verificationCode":"123456"} x'),
            ("a second document", '{"verificationCode":"123456"}{"verificationCode":"123456"}'),
            ("code twice", '{"verificationCode":"000000","verificationCode":"123456"}'),
            ("code twice, once escaped",
             '{"verificationCode":"000000","verification\\u0043ode":"123456"}'),
            ("a name with \\u0000", '{"verificationCode\\u0000":"123456"}'),
            ("nested 10000 deep", '{"verificationCode":%s}' % DEEP),
            ("a NUL byte", b'{"verificationCode":"123456"}\x00'),
            ("form-encoded", "verificationCode=123456"),
            ("empty", ""),
            ("null", "null"),
        ]
        for name, body in code_documents:
            add(Case(f"code body: {name}", ep, body=raw_json(body), status={400},
                     field=("verificationCode", "REQUIRED")))
        add(Case("code as text/plain (not looked at)", ep, body=json.dumps(WRONG_CODE),
                 headers={"Content-Type": "text/plain"}))

    # -- the headers of every endpoint that reads them ---------------------
    for ep in (LOGIN,) + AUTHENTICATED:
        body = right if ep == LOGIN else WRONG_CODE if ep in VERIFYING else None
        for bad in BAD_UTF8[:3]:
            add(Case(f"api-key with {bad!r}", ep, headers={"api-key": b"key" + bad}, body=body,
                     status={400}, field=("api-key", "REGEX")))
        add(Case("api-key not ASCII", ep, headers={"api-key": "ключ".encode()}, body=body,
                 status={400}, field=("api-key", "REGEX")))
        add(Case("api-key with a space", ep, headers={"api-key": "a key"}, body=body,
                 status={400}, field=("api-key", "REGEX")))
        add(Case("api-key of 5000", ep, headers={"api-key": "k" * 5000}, body=body,
                 status={400}, field=("api-key", "SIZE", ["1", "256"])))
        add(Case("User-Agent with bad bytes and 6000 long", ep, body=body,
                 headers={"User-Agent": b"agent\xff\xfe\xc0\xae" + b"\xed\xa0\x80" * 2000},
                 fresh_session=ep == LOGOUT))
    for ep in AUTHENTICATED:
        body = WRONG_CODE if ep in VERIFYING else None
        for bad in BAD_UTF8[:3]:
            add(Case(f"token with {bad!r}", ep, body=body,
                     headers={"Authorization": b"Bearer tok" + bad},
                     status={400}, field=("Authorization", "REGEX")))
        add(Case("token of 5000", ep, headers={"Authorization": "Bearer " + "A" * 5000},
                 body=body, status={400}, field=("Authorization", "SIZE", ["1", "256"])))
        add(Case("token with a space", ep, headers={"Authorization": "Bearer a b"}, body=body,
                 status={400}, field=("Authorization", "REGEX")))
    for ep in IDEMPOTENT:
        body = WRONG_CODE if ep in VERIFYING else None
        for bad in BAD_UTF8[:3]:
            add(Case(f"idempotency-ref with {bad!r}", ep, headers={"idempotency-ref": b"ref" + bad},
                     body=body, status={400}, field=("idempotency-ref", "REGEX")))
        for ref in ("a b", "a\tb", "caf\u00e9".encode(), "\u2603".encode()):
            add(Case(f"idempotency-ref {ref!r}", ep, headers={"idempotency-ref": ref}, body=body,
                     status={400}, field=("idempotency-ref", "REGEX")))
        for n in (256, 5000):
            add(Case(f"idempotency-ref of {n}", ep, headers={"idempotency-ref": "r" * n},
                     body=body, status={400}, field=("idempotency-ref", "SIZE", ["1", "255"])))
        shift = IDEMPOTENT.index(ep)  # one ref per operation: a session's refs are its own
        add(Case("idempotency-ref of 255 visible characters", ep, body=body,
                 headers={"idempotency-ref": "".join(chr(0x21 + (i + shift) % 94)
                                                     for i in range(255))}))
    for ep in (LOGIN, LOGOUT):
        add(Case("idempotency-ref is not read here", ep, headers={"idempotency-ref": b"\xff" * 5000},
                 body=right if ep == LOGIN else None, fresh_session=ep == LOGOUT))

    # -- channels and bodies nobody reads ----------------------------------
    for ep in (ISSUE, VERIFY, ENROL, ENROL_VERIFY):
        base = ep[1].replace("/SMS", "/{}")
        body = WRONG_CODE if ep in VERIFYING else None
        # (Percent-encoded bytes: test_what_the_web_server_sees_first.)
        for channel in ("sms", "SMSX", "S" * 100, "SMS.", "SMS~"):
            add(Case(f"channel {channel[:10]}", ep, path=base.format(channel), body=body,
                     status={400}, field=("channel", None)))
    for ep in (ISSUE, ENROL, LOGOUT):  # (a GET with a body: the web server's business)
        add(Case("a body with garbage (not read)", ep, fresh_session=ep == LOGOUT, body=b'{"a":1,"a":2} \xff\x00'))
        add(Case("a deep body (not read)", ep, body=DEEP, fresh_session=ep == LOGOUT))
    add(Case("health: hostile credentials (not read)", HEALTH,
             headers={"api-key": b"\xff", "Authorization": b"Bearer \xff",
                      "idempotency-ref": b"\xff"}))
    return cases


def send(stack, world, case):
    """Send a case with the world's credentials unless it brings its own."""
    p = world["programme"]
    method, path = case.endpoint
    token = world["e_token"] if case.endpoint in (ENROL, ENROL_VERIFY) else world["s_token"]
    if case.fresh_session:
        token = stack.session(world["s"])
    headers = {"api-key": p.api_key}
    if case.endpoint not in (LOGIN, HEALTH):
        headers["Authorization"] = f"Bearer {token}"
    if case.endpoint == HEALTH:
        headers = {}
    body = case.body
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers["Content-Type"] = "application/json"
    headers.update(case.headers)
    return stack.request(method, case.path or path, headers=headers, body=body)


def problem_of(case, r):
    """What is wrong with the answer r to case, or None."""
    want = case.status or ACCEPTED[case.endpoint]
    if r.status not in want:
        return f"status {r.status}, want {sorted(want)}: {r.raw[:200]!r}"
    if case.field is not None:
        name, error, *params = case.field
        items = (r.json or {}).get("syntaxErrors", {}).get("invalidFields", [{}])
        got = items[0] if len(items) == 1 else {}
        if got.get("fieldName") != name or (error is not None and got.get("error") != error):
            return f"400 on {got}, want {name} {error}"
        if error is not None and r.json != invalid(name, error, params[0] if params else ()):
            return f"body {r.json}, want {invalid(name, error, params[0] if params else ())}"
    return None


def test_catalogue_of_hostile_input(stack, world):
    failures = []
    cases = catalogue(world)
    assert len(cases) > 250  # a catalogue, not a sample
    for case in cases:
        r = send(stack, world, case)
        problem = problem_of(case, r)
        if problem is not None:
            failures.append(f"{case.endpoint[0]} {case.path or case.endpoint[1]} "
                            f"[{case.name}]: {problem}")
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(failures)


def test_no_hostile_code_verified(stack, world):
    # "123456\u0000", duplicate names ending in the right code and the
    # like were all refused: the right code now verifies, both kinds.
    p = world["programme"]
    assert stack.verify(p.api_key, world["s_token"]).status == 204
    assert stack.enrol_verify(p.api_key, world["e_token"]).status == 204


def test_user_agent_is_repaired_and_capped(stack, world):
    p, s = world["programme"], world["s"]
    agent = b"curl/8 \xff\xfe" + "é".encode() + b"\xed\xa0\x80" + b"x" * 3000
    r = stack.request("POST", "/login_with_password", api_key=p.api_key,
                      headers={"User-Agent": agent}, body=login_body(s.email, s.password))
    assert r.status == 200, r
    rows = stack.psql("SELECT user_agent, octet_length(user_agent) FROM stepup.sessions"
                      " WHERE token_hash = decode(:'h', 'hex')",
                      h=stack.token_hash_hex(r.json["token"]))
    stored, size = rows[0][0], int(rows[0][1])
    assert stored.startswith("curl/8 \ufffd\ufffd\u00e9\ufffd\ufffd\ufffdxxx"), stored[:40]
    assert 500 <= size <= 512, size
    assert "\ufffd" * 2 + "é" in stored


def test_idempotency_ref_of_255_replays(stack, world):
    # The longest ref is a ref like any other: the same call replays.
    p = world["programme"]
    u = stack.make_user(p)
    token = stack.session(u)
    ref = "".join(chr(0x21 + i % 94) for i in range(255))
    first = stack.issue(p.api_key, token, idem=ref)
    assert first.status == 204, first
    again = stack.issue(p.api_key, token, idem=ref)
    assert again.status == 204, again


def gate_status(stack, authorization=None, headers=None):
    hdrs = dict(headers or {})
    if authorization is not None:
        hdrs["Authorization"] = authorization
    status, h, text = stack.page(GATE, headers=hdrs)
    return status, text


def test_gate_refuses_malformed_tokens_as_no_session(stack, world):
    failures = []
    for authorization in (b"Bearer \xff\xfe", b"Bearer tok\xed\xa0\x80", "Bearer a b",
                          "Bearer " + "A" * 5000, "Bearer ключ".encode(), b"Bearer \xc0\xae"):
        status, text = gate_status(stack, authorization)
        if status != 401:
            failures.append(f"{authorization[:20]!r}: {status} {text[:100]}")
    # A User-Agent with bad bytes changes nothing: a session that was not
    # stepped up is refused as ever (a sandbox programme: 403 either way).
    token = stack.session(world["e"])
    status, text = gate_status(stack, f"Bearer {token}",
                               {"User-Agent": b"\xff\xfe" * 3000})
    if status != 403:
        failures.append(f"hostile User-Agent: {status} {text[:100]}")
    assert not failures, "\n".join(failures)


def raw_exchange(stack, request_bytes, method, path):
    """Send bytes as they are: (status, headers, body).  An answer with a
    request-ref is stepup's and is checked against docs/openapi.yaml."""
    sock = socket.create_connection((stack.host, stack.port), timeout=30)
    try:
        sock.sendall(request_bytes)
        r = http.client.HTTPResponse(sock, method=method)
        r.begin()
        raw = r.read()
    finally:
        sock.close()
    if r.msg.get("request-ref") is not None:
        openapi_check.check(method, path, r.status, r.msg, raw)
    return r.status, r.msg, raw


def raw_request(stack, method, path, headers=(), body=b""):
    lines = [f"{method} ".encode() + path + b" HTTP/1.1",
             f"Host: {stack.host}:{stack.port}".encode(), b"Connection: close"]
    lines += list(headers)
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def test_what_the_web_server_sees_first(stack, world):
    # A NUL in a header, overlong headers, raw bytes in the path, a body
    # over the limit, a Content-Length that is no number: refused by the
    # web server or by stepup, never 500.
    p = world["programme"]
    token = world["s_token"]
    key = f"api-key: {p.api_key}".encode()
    auth = f"Authorization: Bearer {token}".encode()
    cases = [
        ("NUL in api-key", "POST", b"/logout", [b"api-key: a\x00b", auth], b""),
        ("NUL in the token", "POST", b"/logout", [key, b"Authorization: Bearer a\x00b"], b""),
        ("NUL in idempotency-ref", "POST", b"/stepup/challenges/otp/SMS",
         [key, auth, b"idempotency-ref: a\x00b"], b""),
        ("NUL in User-Agent", "GET", b"/health", [b"User-Agent: a\x00b"], b""),
        ("a 20000-byte User-Agent", "GET", b"/health", [b"User-Agent: " + b"u" * 20000], b""),
        ("a 20000-byte api-key", "GET", b"/authentication_factors",
         [b"api-key: " + b"k" * 20000, auth], b""),
        ("a GET with a body", "GET", b"/health", [], b'{"a":1,"a":2} \xff\x00'),
        ("200 headers", "GET", b"/health", [b"X-H%d: %s" % (i, b"v" * 200) for i in range(200)],
         b""),
        ("raw \\xff in the path", "POST", b"/stepup/challenges/otp/SMS\xff", [key, auth], b""),
        ("raw NUL in the path", "POST", b"/stepup/challenges/otp/S\x00MS", [key, auth], b""),
    ] + [
        (f"channel {channel!r}", "POST", b"/stepup/challenges/otp/" + channel + b"/verify",
         [key, auth], b'{"verificationCode":"000000"}')
        for channel in (b"SMS%FF", b"SMS%00", b"%C0%AE", b"SMS%20", b"%ED%A0%80", b"SMS%2F")
    ] + [
        ("a body over 64 KiB", "POST", b"/login_with_password", [key],
         b'{"email":"' + b"a" * 70000 + b'"}'),
        ("Content-Length not a number", "POST", b"/login_with_password",
         [key, b"Content-Length: abc"], None),
    ]
    failures = []
    for name, method, path, headers, body in cases:
        if body is None:  # the headers bring their own Content-Length
            req = b"\r\n".join([f"{method} ".encode() + path + b" HTTP/1.1",
                                f"Host: {stack.host}:{stack.port}".encode(),
                                b"Connection: close"] + headers) + b"\r\n\r\n"
        else:
            req = raw_request(stack, method, path, headers, body)
        try:
            status, msg, raw = raw_exchange(stack, req, method, path.decode("latin-1"))
        except (http.client.HTTPException, OSError) as exc:
            # A server may close the connection on a request it will not read.
            status, msg, raw = None, None, repr(exc).encode()
        if status is not None and status >= 500:
            failures.append(f"{name}: {status} {raw[:200]!r}")
        elif name.startswith("channel") and msg is not None and msg.get("request-ref"):
            # stepup answered: 400 on the channel (or no route: 404)
            fields = json.loads(raw).get("syntaxErrors", {}).get("invalidFields", [{}])
            if status != 404 and (status, fields[0].get("fieldName")) != (400, "channel"):
                failures.append(f"{name}: {status} {raw[:200]!r}")
    assert not failures, "\n".join(failures)


def test_workers_still_serve(stack, world):
    # Runs last: every worker that served the catalogue still runs (no
    # crash, no restart), serves, and logged no internal error.
    assert set(world["pids"]) <= set(stack.fcgi_pids()), (world["pids"], stack.fcgi_pids())
    assert stack.request("GET", "/health").status == 200
    with open(stack.fcgi_log(), "rb") as f:
        f.seek(world["log_offset"])
        log = f.read().decode("utf-8", "replace")
    assert "internal error" not in log, [l for l in log.splitlines() if "internal error" in l][:5]
    assert "request body refused" in log  # the refusals are logged, at INFO
