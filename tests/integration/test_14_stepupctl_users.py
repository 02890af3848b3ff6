"""stepupctl user deactivate / activate / set-mobile and stepupctl
challenges (issue 3 item 4), each seen through the API as well."""

import json
import time

from conftest import GB_MOBILE, MT_MOBILE, SANDBOX_CODE


def assert_409(r, code):
    assert r.status == 409, r
    assert r.json == {"errorCode": code}, r


def ready(stack, **opts):
    mobile = opts.pop("mobile", GB_MOBILE)
    enrol = opts.pop("enrol", True)
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=mobile, enrol=enrol)
    return p, u, stack.session(u)


def history(stack, user_id, *extra):
    p = stack.ctl_run("challenges", "--user", user_id, *extra)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


# -- deactivate / activate ---------------------------------------------------------
def test_deactivate_ends_every_session_and_refuses_logins(stack):
    p, u, token = ready(stack)
    second = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    assert stack.verify(p.api_key, token).status == 204
    doc = stack.ctl("user", "deactivate", u.id)
    assert doc == {"userId": u.id, "active": False, "sessionsEnded": 2}, doc
    for tok in (token, second):
        for r in (stack.issue(p.api_key, tok), stack.verify(p.api_key, tok),
                  stack.factors(p.api_key, tok), stack.enrol(p.api_key, tok)):
            assert r.status == 401, r
        # The step-up gate too.
        assert stack.page("/legacy/", tok)[0] == 401
    r = stack.login_response(p.api_key, u.email, u.password)
    assert r.status == 403, r
    # Again: nothing left to end.
    assert stack.ctl("user", "deactivate", u.id)["sessionsEnded"] == 0

    assert stack.ctl("user", "activate", u.id) == {"userId": u.id, "active": True}
    # Old sessions stay ended; a new login works and steps up.
    assert stack.issue(p.api_key, token).status == 401
    fresh = stack.session(u)
    assert stack.issue(p.api_key, fresh).status == 204
    assert stack.verify(p.api_key, fresh).status == 204


def test_deactivate_leaves_other_users_alone(stack):
    p, u, token = ready(stack)
    v = stack.make_user(p, mobile=MT_MOBILE)
    other = stack.session(v)
    stack.ctl("user", "deactivate", u.id)
    assert stack.issue(p.api_key, other).status == 204


def test_deactivate_ends_impersonation_sessions_too(stack):
    p, u, token = ready(stack)
    imp = stack.impersonate(u)
    assert stack.factors(p.api_key, imp).status == 200
    stack.ctl("user", "deactivate", u.id)
    assert stack.factors(p.api_key, imp).status == 401


def test_user_commands_refuse_bad_arguments(stack):
    for args, code in ((["user", "deactivate"], 2), (["user", "activate"], 2),
                       (["user", "set-mobile", "00000000-0000-4000-8000-000000000000"], 2),
                       (["user", "deactivate", "not-a-uuid"], 1),
                       (["user", "deactivate", "00000000-0000-4000-8000-000000000000"], 1),
                       (["user", "activate", "00000000-0000-4000-8000-000000000000"], 1),
                       (["user", "set-mobile", "00000000-0000-4000-8000-000000000000",
                         GB_MOBILE], 1),
                       (["challenges"], 2),
                       (["challenges", "--user", "00000000-0000-4000-8000-000000000000"], 1)):
        p = stack.ctl_run(*args)
        assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
        assert p.stdout == "", (args, p.stdout)
        assert p.stderr.strip(), args


def test_set_mobile_rejects_what_is_not_e164(stack):
    p, u, token = ready(stack)
    for bad in ("07400123456", "447400123456", "+44 7400 123456", "+", ""):
        r = stack.ctl_run("user", "set-mobile", u.id, bad)
        assert r.returncode != 0, bad
    rows = stack.psql("SELECT mobile FROM stepup.users WHERE id = :'u'", u=u.id)
    assert rows == [[GB_MOBILE]]
    assert stack.factors(p.api_key, token).json["factors"][0]["status"] == "ACTIVE"


# -- set-mobile --------------------------------------------------------------------
def test_set_mobile_retires_an_active_factor(stack):
    p, u, token = ready(stack)
    doc = stack.ctl("user", "set-mobile", u.id, MT_MOBILE)
    assert doc == {"userId": u.id, "mobile": MT_MOBILE, "factorStatus": "INACTIVE"}, doc
    r = stack.factors(p.api_key, token)
    assert r.json == {"factors": [{"type": "OTP", "channel": "SMS", "status": "INACTIVE"}]}, r
    assert_409(stack.issue(p.api_key, token), "CHANNEL_NOT_REGISTERED")
    # Enrolling again, on the new number, makes it ACTIVE once more.
    assert stack.enrol(p.api_key, token).status == 204
    assert stack.enrol_verify(p.api_key, token).status == 204
    assert stack.factors(p.api_key, token).json["factors"][0]["status"] == "ACTIVE"
    assert stack.issue(p.api_key, token).status == 204
    [c] = [c for c in stack.challenges(token) if c["purpose"] == "STEPUP"]
    assert c["mobile"] == MT_MOBILE


def test_set_mobile_to_the_same_number_keeps_the_factor(stack):
    p, u, token = ready(stack)
    doc = stack.ctl("user", "set-mobile", u.id, GB_MOBILE)
    assert doc["mobile"] == GB_MOBILE and doc["factorStatus"] == "ACTIVE", doc
    assert stack.issue(p.api_key, token).status == 204


def test_set_mobile_supersedes_a_pending_step_up_code(stack):
    p, u, token = ready(stack)
    assert stack.issue(p.api_key, token).status == 204
    stack.ctl("user", "set-mobile", u.id, MT_MOBILE)
    [c] = stack.challenges(token)
    assert c["status"] == "SUPERSEDED", c
    # The old code cannot step the session up any more.
    assert stack.verify(p.api_key, token, SANDBOX_CODE).status == 409


def test_set_mobile_gives_a_number_to_a_user_without_one(stack):
    p, u, token = ready(stack, mobile=None, enrol=False)
    doc = stack.ctl("user", "set-mobile", u.id, MT_MOBILE)
    assert doc["userId"] == u.id and doc["mobile"] == MT_MOBILE, doc
    assert stack.factors(p.api_key, token).json == {}
    assert stack.enrol(p.api_key, token).status == 204


# -- challenges --user -------------------------------------------------------------
def test_challenge_history_newest_first_without_secrets(stack):
    p, u, token = ready(stack, sandbox=False, enrol=False, retry_seconds=0, verify_attempts=3)
    assert stack.enrol(p.api_key, token).status == 204
    [enrol_row] = stack.outbox(p)
    assert stack.enrol_verify(p.api_key, token, enrol_row["code"]).status == 204
    assert stack.issue(p.api_key, token).status == 204
    assert stack.issue(p.api_key, token).status == 204
    for c in ("000000", "000001"):
        stack.verify(p.api_key, token, c)
    assert history(stack, u.id, "--limit", "1")[0]["status"] == "PENDING"
    lines = history(stack, u.id)
    assert [(h["purpose"], h["status"]) for h in lines] == [
        ("STEPUP", "PENDING"), ("STEPUP", "SUPERSEDED"), ("ENROLMENT", "VERIFIED")], lines
    newest = lines[0]
    codes = [row["code"] for row in stack.outbox(p)]
    sid = stack.session_id(token)
    db = {c["id"]: c for c in stack.challenges(token)}
    for h in lines:
        assert h["channel"] == "SMS" and h["mobile"] == GB_MOBILE
        assert h["sessionId"] == sid
        assert h["id"] in db
        text = json.dumps(h)
        # Never a code or a hash of one.
        assert not any(k for k in h if "hash" in k.lower() or "code" in k.lower()), h
        assert db[h["id"]]["code_hash"] not in text
        assert not set(codes) & {str(v) for v in h.values()}, h
    assert newest["attempts"] == 2
    assert newest["requestRef"] == db[newest["id"]]["request_ref"]
    # Another user's history is not in it; a user without challenges prints nothing.
    v = stack.make_user(p, mobile=MT_MOBILE)
    assert history(stack, v.id) == []


def test_challenge_history_shows_expired_challenges_as_expired(stack):
    p, u, token = ready(stack, expiry_seconds=1)
    assert stack.issue(p.api_key, token).status == 204
    time.sleep(1.3)
    [h] = history(stack, u.id)
    assert h["status"] == "EXPIRED", h
