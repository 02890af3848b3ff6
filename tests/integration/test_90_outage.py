"""PostgreSQL goes away: 503, and the same workers recover by themselves."""

import time

from conftest import GB_MOBILE


def poll(fn, seconds):
    """Call fn until it returns a true value or the time is up; the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_database_outage_gives_503_and_workers_recover(stack):
    p = stack.make_programme()
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    spare = stack.session(u)
    pids = stack.fcgi_pids()
    assert pids, "no stepup-fcgi serves the stack"

    stack.part("down", "postgres")
    try:
        for _ in range(8):  # every worker sees the outage
            r = stack.request("GET", "/health")
            assert r.status == 503, r
            assert set(r.json) == {"code", "message"}, r
        r = stack.issue(p.api_key, token)
        assert r.status == 503 and set(r.json) == {"code", "message"}, r
        r = stack.login_response(p.api_key, u.email, u.password)
        assert r.status == 503, r
        # No secret and no libpq detail in the answer.
        assert "connect" not in r.raw.lower() and u.password not in r.raw
    finally:
        stack.part("up", "postgres")

    # Recovery within a few seconds, without restarting anything.
    assert poll(lambda: stack.request("GET", "/health").status == 200, 15)
    # The session survived; a 503 moved no window: the first answer is 204.
    def answered():
        r = stack.issue(p.api_key, token)
        return r if r.status != 503 else None
    r = poll(answered, 15)
    assert r is not None and r.status == 204, r
    # A worker whose connect failed just before the restart waits
    # db_retry_seconds before it tries again; then it answers, and 204.
    token = spare
    r = poll(answered, 15)
    assert r is not None and r.status == 204, r

    # Every worker reconnected: many requests in a row, all answered.
    def all_healthy():
        return all(stack.request("GET", "/health").status == 200 for _ in range(20))
    assert poll(all_healthy, 15)
    # mod_fcgid may start more processes; none of these was replaced.
    assert set(pids) <= set(stack.fcgi_pids()), "stepup-fcgi was restarted instead of recovering"


def test_database_restart_while_idle_costs_no_request(stack):
    """A restart between two requests ends every worker's connection; each
    worker notices before it sends and connects again, so nobody sees it."""
    p = stack.make_programme()
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    pids = stack.fcgi_pids()
    for _ in range(20):  # every worker holds a connection
        assert stack.request("GET", "/health").status == 200

    stack.part("down", "postgres")
    stack.part("up", "postgres")

    statuses = [stack.request("GET", "/health").status for _ in range(20)]
    assert statuses == [200] * 20, statuses
    assert stack.issue(p.api_key, token).status == 204
    assert set(pids) <= set(stack.fcgi_pids())
