"""idempotency-ref on POST /stepup/challenges/otp/{channel}."""

import threading
import time
import uuid

from conftest import GB_MOBILE


def ready(stack, **opts):
    p = stack.make_programme(**opts)
    u = stack.make_user(p, mobile=GB_MOBILE)
    return p, u, stack.session(u)


def new_ref():
    return str(uuid.uuid4())


def test_same_ref_replays_204_without_a_new_challenge(stack):
    p, u, token = ready(stack, sandbox=False)
    ref = new_ref()
    first = stack.issue(p.api_key, token, idem=ref)
    assert first.status == 204
    for _ in range(3):
        again = stack.issue(p.api_key, token, idem=ref)
        assert (again.status, again.raw) == (204, "")
        assert again.ref != first.ref  # a new request, the same answer
    assert len(stack.challenges(token)) == 1
    assert len(stack.outbox(p)) == 1
    # Without the ref, the rules apply as usual.
    r = stack.issue(p.api_key, token)
    assert r.status == 409 and r.json == {"errorCode": "RETRY_IN_15SEC"}, r


def test_same_ref_replays_a_409_even_when_the_rules_changed(stack):
    p, u, token = ready(stack, retry_seconds=1)
    assert stack.issue(p.api_key, token).status == 204
    ref = new_ref()
    r1 = stack.issue(p.api_key, token, idem=ref)
    assert r1.status == 409 and r1.json == {"errorCode": "RETRY_IN_15SEC"}, r1
    time.sleep(1.3)
    # The window is over, but the ref replays its first answer and does nothing.
    r2 = stack.issue(p.api_key, token, idem=ref)
    assert (r2.status, r2.json) == (r1.status, r1.json)
    assert len(stack.challenges(token)) == 1
    # A fresh ref does the work.
    assert stack.issue(p.api_key, token, idem=new_ref()).status == 204
    assert len(stack.challenges(token)) == 2


def test_empty_ref_counts_as_absent(stack):
    p, u, token = ready(stack)
    assert stack.issue(p.api_key, token, idem="").status == 204
    r = stack.issue(p.api_key, token, idem="")
    assert r.status == 409 and r.json == {"errorCode": "RETRY_IN_15SEC"}, r
    assert len(stack.challenges(token)) == 1


def test_same_ref_other_payload_is_422(stack):
    p, u, token = ready(stack)
    ref = new_ref()
    assert stack.issue(p.api_key, token, idem=ref).status == 204
    r = stack.issue(p.api_key, token, idem=ref, body={"other": "payload"})
    assert r.status == 422, r
    assert r.json["code"] == "IDEMPOTENCY_REF_MISMATCH" and r.json["message"], r
    assert len(stack.challenges(token)) == 1
    # The original call still replays.
    assert stack.issue(p.api_key, token, idem=ref).status == 204


def test_ref_belongs_to_one_session(stack):
    p, u, token = ready(stack)
    ref = new_ref()
    assert stack.issue(p.api_key, token, idem=ref).status == 204
    other = stack.session(u)
    # Another session's use of the same ref is its own, new call.
    assert stack.issue(p.api_key, other, idem=ref).status == 204
    assert len(stack.challenges(token)) == 1 and len(stack.challenges(other)) == 1


def test_auth_failures_are_not_recorded(stack):
    p, u, token = ready(stack)
    ref = new_ref()
    q = stack.make_programme()
    r = stack.issue(q.api_key, token, idem=ref)
    assert r.status == 403, r
    # The ref was not consumed by the refused call.
    assert stack.issue(p.api_key, token, idem=ref).status == 204


def test_concurrent_calls_with_one_ref_do_the_work_once(stack):
    p, u, token = ready(stack, sandbox=False)
    ref = new_ref()
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def call(i):
        barrier.wait()
        results[i] = stack.issue(p.api_key, token, idem=ref)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    answers = [(r.status, r.raw) for r in results]
    assert (204, "") in answers, answers
    for status, raw in answers:
        # The first call and its replays answer 204; a racer that arrives
        # while the first is in flight may be told so.
        assert (status, raw) == (204, "") or \
            (status == 409 and '"IDEMPOTENCY_REF_IN_FLIGHT"' in raw), answers
    assert len(stack.challenges(token)) == 1
    assert len(stack.outbox(p)) == 1


def test_ref_older_than_24_hours_is_a_new_call(stack):
    p, u, token = ready(stack, retry_seconds=0, issue_limit=5)
    ref = new_ref()
    assert stack.issue(p.api_key, token, idem=ref).status == 204
    # Age the record instead of waiting a day.
    stack.psql("UPDATE stepup.idempotency_keys SET created_at = now() - interval '24 hours 1 second'"
               " WHERE session_id = :'s' AND ref = :'r'", s=stack.session_id(token), r=ref)
    assert stack.issue(p.api_key, token, idem=ref).status == 204
    assert len(stack.challenges(token)) == 2
    # ... and the new call is what the ref replays from now on.
    assert stack.issue(p.api_key, token, idem=ref).status == 204
    assert len(stack.challenges(token)) == 2
