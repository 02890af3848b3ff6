"""Racing requests on one session never issue more than the rules allow."""

import collections
import threading

from conftest import GB_MOBILE


def race(stack, n, fn):
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def test_50_concurrent_issues_on_one_session_give_exactly_one_204(stack):
    p = stack.make_programme(sandbox=False)
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    results = race(stack, 50, lambda: stack.issue(p.api_key, token))
    counts = collections.Counter(
        (r.status, r.json["errorCode"] if r.status == 409 else None) for r in results)
    assert counts == {(204, None): 1, (409, "RETRY_IN_15SEC"): 49}, counts
    assert len(stack.challenges(token)) == 1
    assert len(stack.outbox(p)) == 1
    rows = stack.psql("SELECT challenges_issued FROM stepup.sessions WHERE id = :'s'",
                      s=stack.session_id(token))
    assert rows == [["1"]]


def test_concurrent_sessions_each_get_their_own(stack):
    p = stack.make_programme()
    u = stack.make_user(p, mobile=GB_MOBILE)
    tokens = [stack.session(u) for _ in range(8)]
    it = iter(range(8))
    lock = threading.Lock()

    def one():
        with lock:
            i = next(it)
        return stack.issue(p.api_key, tokens[i])

    results = race(stack, 8, one)
    assert [r.status for r in results] == [204] * 8
    for t in tokens:
        assert len(stack.challenges(t)) == 1
