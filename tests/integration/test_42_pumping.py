"""SMS pumping (issue 8): enrolment and step-up calls in a loop, against
one number and against one prefix, never queue more texts than the
limits allow, however many users and sessions the pumper uses."""

from test_40_limits import fresh_window, gb_mobile, outbox_to


def pump(stack, p, users, calls):
    """calls requests of enrolment (users not enrolled) and step-up (enrolled
    users), round robin over users and fresh sessions: the statuses."""
    statuses = []
    sessions = {}
    for i in range(calls):
        u = users[i % len(users)]
        if u.id not in sessions or i % 3 == 0:
            sessions[u.id] = stack.session(u)
        token = sessions[u.id]
        r = stack.enrol(p.api_key, token) if i % 2 else stack.issue(p.api_key, token)
        if r.status == 409 and r.json["errorCode"] in ("CHANNEL_NOT_REGISTERED",
                                                       "CHANNEL_ALREADY_REGISTERED"):
            r = stack.issue(p.api_key, token) if i % 2 else stack.enrol(p.api_key, token)
        statuses.append(r.status)
        if r.status == 429:
            assert r.headers["x-ratelimit-limit"] in ("10, 10;w=3600", "15, 15;w=3600"), r
            assert int(r.headers["Retry-After"]) == int(r.headers["x-ratelimit-reset"]) > 0
    return statuses


def test_one_number_gets_no_more_than_challenges_per_number(stack):
    # the defaults: 10 per user and 10 per number an hour; six users share
    # one number, half of them never enrolled (enrolment sends codes too)
    p = stack.make_programme(sandbox=False, retry_seconds=0, issue_limit=1000)
    number = gb_mobile(77)
    users = [stack.make_user(p, mobile=number, enrol=i % 2 == 0) for i in range(6)]
    fresh_window(3600, 60)
    statuses = pump(stack, p, users, 40)
    assert outbox_to(stack, p, number) == 10
    assert statuses.count(204) == 10 and statuses.count(429) >= 20, statuses


def test_one_prefix_gets_no_more_than_challenges_per_prefix(stack):
    p = stack.make_programme(sandbox=False, retry_seconds=0, issue_limit=1000,
                             limits={"challenges-per-prefix": "15/1h"},
                             extra=["--prefix-digits", "3"])
    users = [stack.make_user(p, mobile=gb_mobile(100 + i), enrol=i % 2 == 0) for i in range(8)]
    fresh_window(3600, 60)
    statuses = pump(stack, p, users, 40)
    assert outbox_to(stack, p, "+44740%") == 15
    assert statuses.count(204) == 15 and statuses.count(429) >= 20, statuses
