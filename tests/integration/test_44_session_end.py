"""Sessions that end (issue 8): a session's end is fixed when it is
opened or used, so raising the idle timeout later revives nothing; a
session also ends session_max_seconds after login, however busy."""

import time


def alive(stack, p, token):
    return stack.factors(p.api_key, token).status == 200


def test_raising_the_idle_timeout_does_not_revive_an_ended_session(stack):
    p = stack.make_programme(session_ttl=2)
    token = stack.session(stack.make_user(p))
    assert alive(stack, p, token)
    time.sleep(2.3)
    stack.ctl("programme", "set", p.id, "--session-ttl", "3600")
    assert not alive(stack, p, token)
    # a new session gets the new timeout
    [[left]] = stack.psql(
        "SELECT extract(epoch FROM expires_at - now())::int FROM stepup.sessions"
        " WHERE id = :'s'", s=stack.session_id(stack.session(stack.make_user(p))))
    assert 3590 <= int(left) <= 3600


def test_use_keeps_a_session_alive_until_its_absolute_lifetime(stack):
    p = stack.make_programme(session_ttl=2, extra=["--session-max-seconds", "4"])
    token = stack.session(stack.make_user(p))
    started = time.time()
    seen = []
    while time.time() - started < 5.5:
        seen.append((round(time.time() - started, 1), alive(stack, p, token)))
        time.sleep(0.7)
    before = [ok for t, ok in seen if t < 3.8]
    after = [ok for t, ok in seen if t > 4.2]
    assert all(before) and before, seen  # idle never more than 2 s: alive
    assert after and not any(after), seen  # past 4 s since login: ended


def test_lowering_the_lifetime_ends_sessions_at_their_next_use(stack):
    p = stack.make_programme()
    token = stack.session(stack.make_user(p))
    time.sleep(1.1)
    stack.ctl("programme", "set", p.id, "--session-max-seconds", "1")
    assert alive(stack, p, token)  # the end fixed when it was last used still holds...
    assert not alive(stack, p, token)  # ...and that use moved it to login + 1 s
