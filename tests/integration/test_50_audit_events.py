"""Every change writes its audit event (stepup.audit_log, through
stepup.audit_event), in the transaction of the call that makes it: a whole
flow over HTTP writes exactly the expected events, each with its
programme, user, session and challenge and the request's context (the
request-ref header, the client address, the User-Agent); refusals, limits
and lock-outs write theirs, a replay none; the sender's deliveries and
every operator command that changes data write theirs; no event holds a
secret, nor the e-mail address of a login that named no user.  The roles
stepup runs as may append to the log and nothing else; nobody may change
it."""

import json
import re
import subprocess
import time
import uuid

from conftest import PG_BIN, SANDBOX_CODE
from sender_fixtures import Flow, code_in, gateway, senders, wait_until  # noqa: F401 (fixtures)

UA = "audit-test/1.0 (events)"
HEADERS = {"User-Agent": UA}
CLIENT = "127.0.0.1"  # the stack's peer, no trusted proxy
WRONG_CODE = "654321"
COLS = ["seq", "event", "programme_id", "identity_id", "user_id", "session_id", "challenge_id",
        "request_ref", "client_addr", "user_agent", "actor", "detail", "row"]


def events(stack, where="programme_id = :'p'", **variables):
    """The audit events matching where, in the order they were written, as
    dicts (NULL as None; detail parsed; row: the whole row as JSON text;
    text: its columns that are text, where a secret could hide)."""
    rows = stack.psql(
        "SELECT e.seq, e.event, e.programme_id, e.identity_id, e.user_id, e.session_id,"
        "       e.challenge_id, e.request_ref, host(e.client_addr), e.user_agent, e.actor,"
        "       e.detail::text, row_to_json(e)::text"
        "  FROM stepup.audit_log e WHERE " + where + " ORDER BY e.seq", **variables)
    out = []
    for r in rows:
        d = {k: (v if v != "" else None) for k, v in zip(COLS, r)}
        d["seq"] = int(d["seq"])
        d["text"] = "\n".join((d["request_ref"] or "", d["user_agent"] or "", d["actor"],
                               d["detail"]))
        d["detail"] = json.loads(d["detail"])
        out.append(d)
    return out


def of(stack, programme, after=0):
    return [e for e in events(stack, p=programme.id) if e["seq"] > after]


def last_seq(stack):
    [[n]] = stack.psql("SELECT coalesce(max(seq), 0) FROM stepup.audit_log")
    return int(n)


def names(evs):
    return [e["event"] for e in evs]


def assert_request(e, resp, session=None, user=None, challenge=None):
    """An event of the request resp (a Response, or the request-ref): its
    context, and the ids given."""
    ref = resp if isinstance(resp, str) else resp.ref
    assert e["request_ref"] == ref, (e, ref)
    assert e["client_addr"] == CLIENT, e
    assert e["user_agent"] == UA, e
    assert e["actor"] == "stepup_app", e
    if session is not None:
        assert e["session_id"] == session, e
    if user is not None:
        assert e["user_id"] == user.id and e["identity_id"] == user.identity_id, e
    if challenge is not None:
        assert e["challenge_id"] == challenge, e


def assert_no_secret(stack, evs, *secrets):
    """No event holds a secret of the run (passwords, keys, tokens, and the
    SHA-256 hex of each, how they are stored), these values, or a code (as
    a word of its own: a UUID or a time may hold six digits in a row)."""
    values = set(secrets) | set(stack.secrets)
    values |= {stack.token_hash_hex(v) for v in stack.secrets}
    codes = set(stack.codes) | {SANDBOX_CODE, WRONG_CODE}
    for e in evs:
        for v in values:
            assert v not in e["text"], (v[:6], e["event"], e["text"])
        for c in codes:
            assert not re.search(r"(?<![0-9a-fA-F.])%s(?![0-9a-fA-F+-])" % c, e["text"]), \
                (e["event"], e["text"])


def fresh_window(seconds, margin):
    """Wait, if the current window of `seconds` ends within `margin`
    seconds, until the next one has begun (windows are aligned to the epoch)."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.05)


def login(stack, user, password=None, email=None):
    return stack.request("POST", "/login_with_password", HEADERS, api_key=user.programme.api_key,
                         body={"email": email or user.email,
                               "password": {"value": password or user.password}})


def test_a_whole_flow_writes_exactly_its_events(stack):
    p = stack.make_programme()  # sandbox: no text is queued
    u = stack.make_user(p, enrol=False)
    key, hdr = p.api_key, HEADERS

    r_login = login(stack, u)
    assert r_login.status == 200, r_login
    token = r_login.json["token"]
    session = stack.session_id(token)
    gate = stack.page("/legacy/", token, headers=hdr)
    assert gate[0] == 403, gate
    r_enrol = stack.enrol(key, token, headers=hdr)
    assert r_enrol.status == 204, r_enrol
    r_enrolled = stack.enrol_verify(key, token, SANDBOX_CODE, headers=hdr)
    assert r_enrolled.status == 204, r_enrolled
    r_issue = stack.issue(key, token, headers=hdr)
    assert r_issue.status == 204, r_issue
    r_again = stack.issue(key, token, headers=hdr)
    assert r_again.status == 409 and r_again.json["errorCode"] == "RETRY_IN_15SEC", r_again
    r_wrong = stack.verify(key, token, WRONG_CODE, headers=hdr)
    assert r_wrong.status == 409, r_wrong
    r_right = stack.verify(key, token, SANDBOX_CODE, headers=hdr)
    assert r_right.status == 204, r_right
    r_out = stack.request("POST", "/logout", hdr, api_key=key, token=token)
    assert r_out.status == 204, r_out
    # after the logout: an authentication failure, which is no event
    assert stack.issue(key, token, headers=hdr).status == 401

    enrol_ch, step_ch = [c["id"] for c in stack.challenges(token)]
    evs = of(stack, p)
    assert names(evs) == [
        "operator.change", "operator.change", "operator.change",
        "login.succeeded", "gate.refused",
        "challenge.issued", "challenge.verified", "factor.enrolled",
        "challenge.issued", "challenge.refused", "challenge.verify_failed", "challenge.verified",
        "logout"], names(evs)
    create, apikey, user_create = evs[:3]
    assert create["detail"]["command"] == "programme create" and create["user_id"] is None
    assert create["detail"]["name"] == p.name and create["detail"]["settings"]["sandbox"] is True
    assert apikey["detail"]["command"] == "apikey create" and "api_key_id" in apikey["detail"]
    assert user_create["detail"]["command"] == "user create"
    assert user_create["user_id"] == u.id and user_create["identity_id"] == u.identity_id
    for e in evs[:3]:
        assert e["actor"] == "stepup_operator" and e["request_ref"] is None, e

    logged_in, gated, issued_e, verified_e, enrolled, issued, refused, failed, verified, out = evs[3:]
    assert_request(logged_in, r_login, session, u)
    assert logged_in["challenge_id"] is None and logged_in["detail"] == {}
    assert_request(gated, gate[1]["request-ref"], session, u)
    assert gated["detail"] == {"outcome": "NOT_STEPPED_UP", "gate": "legacy"}
    assert_request(issued_e, r_enrol, session, u, enrol_ch)
    assert issued_e["detail"] == {"purpose": "ENROLMENT", "channel": "SMS", "sandbox": True}
    assert_request(verified_e, r_enrolled, session, u, enrol_ch)
    assert_request(enrolled, r_enrolled, session, u, enrol_ch)
    assert enrolled["detail"]["channel"] == "SMS"
    assert_request(issued, r_issue, session, u, step_ch)
    assert issued["detail"] == {"purpose": "STEPUP", "channel": "SMS", "sandbox": True}
    assert_request(refused, r_again, session, u)
    assert refused["challenge_id"] is None
    assert refused["detail"] == {"outcome": "RETRY_IN_15SEC", "purpose": "STEPUP", "channel": "SMS"}
    assert_request(failed, r_wrong, session, u, step_ch)
    assert failed["detail"] == {"attempts": 1, "outcome": "VERIFICATION_CODE_INVALID"}
    assert_request(verified, r_right, session, u, step_ch)
    assert verified["detail"]["purpose"] == "STEPUP"
    assert_request(out, r_out, session, u)
    assert_no_secret(stack, evs, key, token, u.password, u.email)


def test_a_new_challenge_supersedes_the_pending_one_and_a_replay_writes_nothing(stack):
    p = stack.make_programme(retry_seconds=0, issue_limit=10)
    u = stack.make_user(p)
    token = stack.session(u)
    first = stack.issue(p.api_key, token, headers=HEADERS, idem="one")
    assert first.status == 204, first
    before = last_seq(stack)
    replay = stack.issue(p.api_key, token, headers=HEADERS, idem="one")
    assert replay.status == 204, replay
    assert of(stack, p, before) == []
    second = stack.issue(p.api_key, token, headers=HEADERS)
    assert second.status == 204, second
    old, new = [c["id"] for c in stack.challenges(token)]
    evs = of(stack, p, before)
    assert names(evs) == ["challenge.superseded", "challenge.issued"], names(evs)
    assert_request(evs[0], second, challenge=old)
    assert evs[0]["detail"] == {"purpose": "STEPUP", "superseded_by": new}
    assert_request(evs[1], second, challenge=new)


def test_a_text_queued_and_sent_writes_its_events(stack, gateway, senders):
    flow = Flow(stack)
    before = last_seq(stack)
    r = stack.issue(flow.programme.api_key, flow.token, headers=HEADERS)
    assert r.status == 204, r
    [row] = flow.rows()
    code = flow.code_of(row["id"])  # remembered: the scan below looks for it
    senders.start()
    [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=[row["id"]])
    assert code_in(req["text"]) == code
    flow.wait_status(row["id"], "SENT")
    evs = wait_until(lambda: (lambda e: e if "sms.sent" in names(e) else None)(
        of(stack, flow.programme, before)), what="sms.sent")
    assert names(evs) == ["challenge.issued", "challenge.queued", "sms.sent"], names(evs)
    issued, queued, sent = evs
    session = stack.session_id(flow.token)
    assert issued["detail"]["sandbox"] is False
    assert_request(queued, r, session, flow.user, row["challenge_id"])
    assert queued["detail"] == {"outbox_id": row["id"]}
    assert sent["actor"] == "stepup_sender"
    assert (sent["session_id"], sent["user_id"], sent["challenge_id"]) == \
        (session, flow.user.id, row["challenge_id"])
    assert sent["identity_id"] == flow.user.identity_id
    assert sent["request_ref"] is None and sent["client_addr"] is None
    assert sent["detail"]["outbox_id"] == row["id"]
    assert sent["detail"]["attempt"] == 1 and sent["detail"]["provider"] == "http"
    assert_no_secret(stack, evs, code, req["text"])


def test_failed_deliveries_write_their_events(stack, gateway, senders):
    """A retry then a success; a message refused for good (dead)."""
    flow = Flow(stack)
    retried, refused = flow.issue(), flow.issue(new_session=True)
    for outbox_id in (retried, refused):
        flow.code_of(outbox_id)
    gateway.rule(status=500, times=1, message_id=retried)
    gateway.rule(status=400, message_id=refused)
    before = last_seq(stack)
    senders.start(max_attempts=3)
    flow.wait_status(retried, "SENT")
    flow.wait_status(refused, "DEAD")

    def of_message(outbox_id):
        return [e for e in of(stack, flow.programme, before)
                if e["detail"].get("outbox_id") == outbox_id]
    evs = wait_until(lambda: (lambda e: e if len(e) == 2 else None)(of_message(retried)),
                     what="two events")
    assert names(evs) == ["sms.delivery_failed", "sms.sent"], names(evs)
    assert evs[0]["detail"]["attempt"] == 1 and evs[0]["detail"]["status"] == "RETRY"
    assert evs[0]["detail"]["http_status"] == 500 and "HTTP 500" in evs[0]["detail"]["error"]
    assert evs[1]["detail"]["attempt"] == 2
    [dead] = of_message(refused)
    assert dead["event"] == "sms.dead", dead
    assert dead["detail"]["status"] == "PERMANENT" and dead["detail"]["http_status"] == 400
    assert dead["session_id"] == stack.session_id(flow.token)
    for e in evs + [dead]:
        assert e["user_id"] == flow.user.id and e["actor"] == "stepup_sender", e
    assert_no_secret(stack, evs + [dead])


def test_a_text_of_a_challenge_that_ended_is_expired_unsent(stack, gateway, senders):
    flow = Flow(stack)
    outbox_id = flow.issue()
    flow.code_of(outbox_id)
    [ch] = [c["id"] for c in stack.challenges(flow.token)]
    stack.psql("UPDATE stepup.challenges SET expires_at = now() - interval '1 second'"
               " WHERE id = :'c'", c=ch)
    before = last_seq(stack)
    senders.start()
    flow.wait_status(outbox_id, "EXPIRED")
    [e] = wait_until(lambda: of(stack, flow.programme, before), what="an event")
    assert e["event"] == "sms.expired_unsent" and e["challenge_id"] == ch, e
    assert e["detail"]["outbox_id"] == outbox_id and e["actor"] == "stepup_sender", e
    assert e["detail"]["challenge_status"] == "EXPIRED", e
    assert (e["session_id"], e["user_id"]) == (stack.session_id(flow.token), flow.user.id), e
    assert gateway.requests(message_ids=[outbox_id]) == []


def test_rate_limits_and_lock_outs_write_their_events(stack):
    fresh_window(900, 60)  # the 15-minute and the hour windows stay the same
    p = stack.make_programme(retry_seconds=0, issue_limit=100, verify_attempts=2,
                             limits={"challenges-per-user": "2/1h",
                                     "verify-failures-per-user": "2/15m",
                                     "login-failures-per-user": "1/15m"})
    u = stack.make_user(p)
    token = stack.session(u)
    session = stack.session_id(token)
    before = last_seq(stack)

    # wrong codes until the challenge fails and the user is locked out
    assert stack.issue(p.api_key, token, headers=HEADERS).status == 204
    [ch] = [c["id"] for c in stack.challenges(token)]
    w1 = stack.verify(p.api_key, token, WRONG_CODE, headers=HEADERS)
    w2 = stack.verify(p.api_key, token, WRONG_CODE, headers=HEADERS)
    assert w2.status == 409 and w2.json["errorCode"] == "CHALLENGE_LIMIT_EXCEEDED", w2
    locked = stack.verify(p.api_key, token, SANDBOX_CODE, headers=HEADERS)
    assert locked.status == 429, locked
    evs = of(stack, p, before)
    assert names(evs) == ["challenge.issued", "challenge.verify_failed",
                          "challenge.verify_failed", "limit.locked_out", "challenge.failed",
                          "limit.refused"], names(evs)
    assert_request(evs[1], w1, session, u, ch)
    assert evs[1]["detail"] == {"attempts": 1, "outcome": "ONE_CHALLENGE_LIMIT_REMAINING"}
    assert evs[2]["detail"] == {"attempts": 2, "outcome": "CHALLENGE_LIMIT_EXCEEDED"}
    for e in evs[2:5]:
        assert_request(e, w2, session, u, ch)
    assert evs[3]["detail"]["limit"] == "verify-failures-per-user"
    assert evs[3]["detail"]["seconds"] == 900
    assert evs[4]["detail"] == {"attempts": 2}
    assert_request(evs[5], locked, session, u)
    assert evs[5]["detail"]["limit"] == "verify-failures-per-user"
    assert evs[5]["detail"]["retry_after"] == int(locked.headers["x-ratelimit-reset"])
    assert evs[5]["detail"]["operation"]

    # a challenge limit (2 an hour): after the reset two challenges, then a refusal
    stack.ctl("limits", "reset", "--user", u.id)
    before = last_seq(stack)
    assert stack.issue(p.api_key, token, headers=HEADERS).status == 204
    assert stack.issue(p.api_key, token, headers=HEADERS).status == 204
    refused = stack.issue(p.api_key, token, headers=HEADERS)
    assert refused.status == 429, refused
    evs = of(stack, p, before)
    assert names(evs) == ["challenge.issued", "challenge.superseded", "challenge.issued",
                          "limit.refused"], names(evs)
    assert_request(evs[3], refused, session, u)
    assert evs[3]["challenge_id"] is None
    assert evs[3]["detail"]["limit"] == "challenges-per-user"
    assert evs[3]["detail"]["retry_after"] == int(refused.headers["x-ratelimit-reset"])

    # a login limit: a wrong password, then the right one refused by the limit
    before = last_seq(stack)
    wrong_password = "pw-wrong-" + uuid.uuid4().hex
    bad = login(stack, u, password=wrong_password)
    assert bad.status == 403, bad
    over = login(stack, u)
    assert over.status == 429, over
    evs = of(stack, p, before)
    assert names(evs) == ["login.failed", "limit.refused"], names(evs)
    assert_request(evs[0], bad, user=u)
    assert evs[0]["session_id"] is None
    assert evs[0]["detail"] == {"outcome": "PASSWORD_MISMATCH"}
    assert_request(evs[1], over)
    assert evs[1]["user_id"] is None and evs[1]["session_id"] is None
    assert evs[1]["detail"]["limit"] == "login-failures-per-user"
    assert_no_secret(stack, evs, u.email, wrong_password)


def test_a_login_with_an_unknown_address_records_the_programme_alone(stack):
    p = stack.make_programme()
    u = stack.make_user(p)
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.org"
    before = last_seq(stack)
    r = login(stack, u, email=unknown)
    assert r.status == 403, r
    [e] = events(stack, "seq > :'s' AND request_ref = :'r'", s=before, r=r.ref)
    assert e["event"] == "login.failed" and e["programme_id"] == p.id, e
    assert e["user_id"] is None and e["identity_id"] is None and e["session_id"] is None, e
    assert e["detail"] == {"outcome": "USER_UNKNOWN"}, e
    assert_request(e, r)
    assert unknown not in e["row"] and unknown.split("@")[0] not in e["row"], e["row"]
    # nor anywhere else in the log
    [[n]] = stack.psql("SELECT count(*) FROM stepup.audit_log e WHERE row_to_json(e)::text"
                       " ILIKE '%' || :'x' || '%'", x=unknown.split("@")[0])
    assert n == "0"

    # a deactivated user: login.failed of that user
    stack.ctl("user", "deactivate", u.id)
    r = login(stack, u)
    assert r.status == 403, r
    [e] = events(stack, "request_ref = :'r'", r=r.ref)
    assert e["event"] == "login.failed" and e["user_id"] == u.id, e
    assert e["detail"] == {"outcome": "CREDENTIALS_INACTIVE"}


def test_a_refused_gate_and_a_refused_enrolment_write_their_events(stack):
    p = stack.make_programme(gates="elsewhere")
    u = stack.make_user(p, enrol=False, mobile=None)
    token = stack.session(u)
    session = stack.session_id(token)
    before = last_seq(stack)
    status, headers, _ = stack.page("/legacy/", token, headers=HEADERS)
    assert status == 403
    r = stack.enrol(p.api_key, token, headers=HEADERS)
    assert r.status == 409 and r.json["errorCode"] == "MOBILE_NUMBER_NOT_AVAILABLE", r
    v = stack.verify(p.api_key, token, SANDBOX_CODE, headers=HEADERS)
    assert v.status == 409 and v.json["errorCode"] == "CHANNEL_NOT_REGISTERED", v
    gated, enrol, verify = of(stack, p, before)
    assert gated["event"] == "gate.refused" and gated["session_id"] == session, gated
    assert gated["request_ref"] == headers["request-ref"] and gated["user_agent"] == UA
    assert gated["detail"] == {"outcome": "GATE_FORBIDDEN", "gate": "legacy"}
    assert enrol["event"] == "challenge.refused"
    assert_request(enrol, r, session, u)
    assert enrol["detail"] == {"outcome": "MOBILE_NUMBER_NOT_AVAILABLE", "purpose": "ENROLMENT",
                               "channel": "SMS"}
    assert verify["event"] == "challenge.refused"
    assert_request(verify, v, session, u)
    assert verify["detail"]["outcome"] == "CHANNEL_NOT_REGISTERED"
    # a token that is no session: no event
    before = last_seq(stack)
    assert stack.page("/legacy/", "no-such-token", headers=HEADERS)[0] == 401
    assert stack.issue(p.api_key, "no-such-token", headers=HEADERS).status == 401
    assert events(stack, "seq > :'s' AND user_agent = :'ua'", s=before, ua=UA) == []


def test_every_operator_command_that_changes_data_writes_operator_change(stack):
    p = stack.make_programme(sandbox=False)
    u = stack.make_user(p, enrol=False)
    template = "Your code for {programme} is {code} " + uuid.uuid4().hex
    before = last_seq(stack)
    stack.ctl("programme", "set", p.id, "--sms-template", template, "--retry-seconds", "0",
              "--limit", "challenges-per-user=5/1h")
    stack.ctl("apikey", "create", "--programme", p.id)
    stack.ctl("user", "enrol", "--user", u.id, "--channel", "SMS")
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    [msg] = stack.outbox(p)
    stack.ctl("outbox", "retry", msg["id"])
    stack.ctl("user", "set-mobile", u.id, "+447400123999")
    imp = stack.impersonate(u)
    stack.ctl("limits", "reset", "--user", u.id)
    stack.ctl("user", "deactivate", u.id)
    stack.ctl("user", "activate", u.id)
    stack.ctl("outbox", "purge", "--older-than", "30d")
    stack.ctl("programme", "show", p.id)  # reads: no event
    stack.ctl("limits", "show", "--user", u.id)

    evs = [e for e in events(stack, "seq > :'s' AND event = 'operator.change'", s=before)
           if e["programme_id"] in (p.id, None)]
    commands = [e["detail"]["command"] for e in evs]
    assert commands == ["programme set", "apikey create", "user enrol", "outbox retry",
                        "user set-mobile", "token impersonate", "limits reset",
                        "user deactivate", "user activate", "outbox purge"], commands
    by = dict(zip(commands, evs))
    for e in evs:
        assert e["actor"] == "stepup_operator" and e["request_ref"] is None, e
    assert by["programme set"]["detail"]["changed"] == ["limits", "retry_seconds", "sms_template"]
    assert by["programme set"]["detail"]["settings"] == {
        "retry_seconds": 0, "limits": {"challenges-per-user": {"count": 5, "seconds": 3600}}}
    assert by["outbox retry"]["challenge_id"] == msg["challenge_id"]
    assert by["outbox retry"]["detail"]["outbox_id"] == msg["id"]
    assert by["outbox retry"]["session_id"] == stack.session_id(token)
    assert by["user set-mobile"]["detail"]["mobile"] == "+447400123999"
    assert by["user set-mobile"]["detail"]["challenges_superseded"] == [msg["challenge_id"]]
    assert by["user set-mobile"]["detail"]["factor_status"] == "INACTIVE"
    assert by["token impersonate"]["session_id"] == stack.session_id(imp)
    assert by["user deactivate"]["detail"]["sessions_ended"] == 2
    assert by["outbox purge"]["programme_id"] is None
    assert by["outbox purge"]["detail"]["older_than_seconds"] == 30 * 86400
    for e in evs:
        if e["event"] == "operator.change" and e["detail"]["command"] != "outbox purge":
            assert e["programme_id"] == p.id and e["user_id"] in (None, u.id), e
    assert_no_secret(stack, evs, template, template.split()[-1], imp, msg["code"])


def psql_as(stack, role, sql):
    env = stack.subprocess_env(PGUSER=role)
    return subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], capture_output=True, text=True, env=env, timeout=30)


def test_the_app_may_append_to_the_log_and_nobody_may_change_it(stack):
    p = stack.make_programme()
    stack.make_user(p)
    [[seq]] = stack.psql("SELECT max(seq) FROM stepup.audit_log WHERE programme_id = :'p'",
                         p=p.id)
    ins = psql_as(stack, "stepup_app",
                  "BEGIN; INSERT INTO stepup.audit_log (event, detail)"
                  " VALUES ('operator.change', '{\"command\": \"probe\"}'); ROLLBACK;")
    assert ins.returncode == 0, ins.stderr
    for sql in ("SELECT count(*) FROM stepup.audit_log",
                f"UPDATE stepup.audit_log SET detail = '{{}}' WHERE seq = {seq}",
                f"DELETE FROM stepup.audit_log WHERE seq = {seq}",
                "TRUNCATE stepup.audit_log"):
        for role in ("stepup_app", "stepup_sender", "stepup_operator"):
            r = psql_as(stack, role, sql)
            assert r.returncode != 0 and "permission denied" in r.stderr, (role, sql, r.stderr)
    # not even the owner: the trigger refuses
    for sql in (f"UPDATE stepup.audit_log SET detail = '{{}}' WHERE seq = {seq}",
                f"DELETE FROM stepup.audit_log WHERE seq = {seq}"):
        r = psql_as(stack, stack.pg_owner, sql)
        assert r.returncode != 0 and "append-only" in r.stderr, (sql, r.stderr)
    [[n]] = stack.psql("SELECT count(*) FROM stepup.audit_log WHERE seq = :'s'", s=seq)
    assert n == "1"
    # the auditor reads the log through the schema audit only
    r = psql_as(stack, "stepup_auditor",
                f"SELECT event FROM audit.events WHERE seq = {seq}")
    assert r.returncode == 0 and r.stdout.strip() == "operator.change", r.stderr
    r = psql_as(stack, "stepup_auditor", "SELECT count(*) FROM stepup.audit_log")
    assert r.returncode != 0 and "permission denied" in r.stderr, r.stderr
