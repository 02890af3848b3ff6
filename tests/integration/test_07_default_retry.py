"""The retry window at its default of 15 seconds."""

import time

from conftest import GB_MOBILE


def test_default_retry_window_is_15_seconds(stack):
    p = stack.make_programme()  # every setting at its default
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    # The window opened between sent and answered: refusals are timed from
    # sent, the next 204 from answered (a busy machine may answer late).
    sent = time.monotonic()
    assert stack.issue(p.api_key, token).status == 204
    answered = time.monotonic()
    for at in (0.1, 7, 14):
        time.sleep(max(0, sent + at - time.monotonic()))
        r = stack.issue(p.api_key, token)
        assert r.status == 409 and r.json == {"errorCode": "RETRY_IN_15SEC"}, (at, r)
    time.sleep(max(0, answered + 15.5 - time.monotonic()))
    assert stack.issue(p.api_key, token).status == 204
