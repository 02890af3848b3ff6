"""Rate limits (issue 8): each limit under it, at it, over it (429 with
x-ratelimit-limit, x-ratelimit-reset and Retry-After, and nothing done),
and after its window; only what a limit counts moves it; the settings as
stepupctl writes and shows them.

Windows are fixed and aligned to the epoch (a 1h window starts on the
hour), so a test that must stay in one window first waits, when the
current one is about to end, for the next (fresh_window)."""

import re
import subprocess
import time
import uuid

import pytest

from conftest import BUILD, GB_MOBILE
from sender_fixtures import gateway, senders, wait_until  # noqa: F401 (fixtures)

LIMIT_NAMES = ["login-failures-per-user", "login-per-address", "challenges-per-user",
               "challenges-per-number", "challenges-per-prefix", "challenges-per-programme",
               "verify-failures-per-user"]
EVERY_LIMIT_OFF = {name: "off" for name in LIMIT_NAMES}


def fresh_window(seconds, margin):
    """Wait, if the current window of `seconds` ends within `margin`
    seconds, until the next one has begun."""
    left = seconds - time.time() % seconds
    if left < margin:
        time.sleep(left + 0.05)


def assert_429(r, count, seconds, longest=None):
    """A refusal by a limit of count per seconds: 429 with its three headers,
    the wait at most the window (or longest: a lock-out doubled)."""
    assert r.status == 429, r
    assert r.json["code"] == "TOO_MANY_REQUESTS", r.json
    assert r.headers["x-ratelimit-limit"] == f"{count}, {count};w={seconds}", dict(r.headers)
    reset = int(r.headers["x-ratelimit-reset"])
    assert 1 <= reset <= (longest or seconds), reset
    assert r.headers["Retry-After"] == str(reset)
    return reset


def programme(stack, limits, **opts):
    """A programme whose limits are all off but those given."""
    return stack.make_programme(limits=dict(EVERY_LIMIT_OFF, **limits), retry_seconds=0,
                                issue_limit=1000, **opts)


def challenge_count(stack, user):
    [[n]] = stack.psql("SELECT count(*) FROM stepup.challenges WHERE user_id = :'u'", u=user.id)
    return int(n)


def outbox_to(stack, programme, number_like):
    [[n]] = stack.psql("SELECT count(*) FROM stepup.sms_outbox WHERE programme_id = :'p'"
                       " AND to_number LIKE :'n'", p=programme.id, n=number_like)
    return int(n)


def gb_mobile(i):
    """Distinct GB mobile numbers sharing the prefix +44 740."""
    return f"+4474001{i:05d}"


# -- the settings ---------------------------------------------------------------
def test_limits_are_shown_with_their_defaults_and_set_by_name(stack):
    p = stack.make_programme()
    limits = stack.ctl("programme", "show", p.id)["limits"]
    assert limits == {"login-failures-per-user": "10/15m", "login-per-address": "off",
                      "challenges-per-user": "10/1h", "challenges-per-number": "10/1h",
                      "challenges-per-prefix": "off", "challenges-per-programme": "off",
                      "verify-failures-per-user": "10/15m"}
    stack.ctl("programme", "set", p.id, "--limit", "challenges-per-user=5/30s",
              "--limit", "login-per-address=100/1d", "--limit", "verify-failures-per-user=off",
              "--limit", "challenges-per-prefix=90/90m")
    limits = stack.ctl("programme", "show", p.id)["limits"]
    assert limits["challenges-per-user"] == "5/30s"
    assert limits["login-per-address"] == "100/1d"
    assert limits["verify-failures-per-user"] == "off"
    assert limits["challenges-per-prefix"] == "90/90m"
    stack.ctl("programme", "set", p.id, "--limit", "challenges-per-user=default")
    assert stack.ctl("programme", "show", p.id)["limits"]["challenges-per-user"] == "10/1h"


@pytest.mark.parametrize("spec, message", [
    ("no-such-limit=5/1h", 'no limit is called "no-such-limit"'),
    ("challenges-per-user=0/1h", "COUNT must be from 1 to 1000000"),
    ("challenges-per-user=1000001/1h", "COUNT must be from 1 to 1000000"),
    ("challenges-per-user=5/31d", "PERIOD must be from 1s to 30d"),
    ("challenges-per-user=5/0s", "PERIOD must be from 1s to 30d"),
    ("challenges-per-user=5", "expected COUNT/PERIOD"),
    ("challenges-per-user=5/1w", "expected COUNT/PERIOD"),
])
def test_a_bad_limit_is_refused_and_changes_nothing(stack, spec, message):
    p = stack.make_programme()
    before = stack.ctl("programme", "show", p.id)
    r = stack.ctl_run("programme", "set", p.id, "--limit", spec, "--retry-seconds", "7")
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert stack.ctl("programme", "show", p.id) == before


# -- challenges -----------------------------------------------------------------
def test_challenges_per_user_under_at_over_and_after(stack):
    p = programme(stack, {"challenges-per-user": "3/4s"})
    u = stack.make_user(p)
    token = stack.session(u)
    fresh_window(4, 3)
    for _ in range(3):
        assert stack.issue(p.api_key, token).status == 204
    r = stack.issue(p.api_key, token)
    reset = assert_429(r, 3, 4)
    # nothing done: no challenge, and the session's own counters did not move
    assert challenge_count(stack, u) == 3
    [[issued]] = stack.psql("SELECT challenges_issued FROM stepup.sessions WHERE id = :'s'",
                            s=stack.session_id(token))
    assert issued == "3"
    # another session of the same user is refused as well
    assert_429(stack.issue(p.api_key, stack.session(u)), 3, 4)
    time.sleep(reset + 0.1)
    assert stack.issue(p.api_key, token).status == 204
    assert challenge_count(stack, u) == 4


def test_enrolment_and_step_up_count_together(stack):
    p = programme(stack, {"challenges-per-user": "3/1h"})
    u = stack.make_user(p, enrol=False)
    token = stack.session(u)
    fresh_window(3600, 30)
    assert stack.enrol(p.api_key, token).status == 204
    assert stack.enrol(p.api_key, token).status == 204
    assert stack.enrol_verify(p.api_key, token).status == 204
    assert stack.issue(p.api_key, token).status == 204
    assert_429(stack.issue(p.api_key, token), 3, 3600)
    assert challenge_count(stack, u) == 3


def test_a_409_is_not_a_challenge_issued(stack):
    p = stack.make_programme(limits=dict(EVERY_LIMIT_OFF, **{"challenges-per-user": "2/1h"}))
    u = stack.make_user(p)
    fresh_window(3600, 30)
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    for _ in range(5):  # the session's 15 s retry window: 409, not counted
        r = stack.issue(p.api_key, token)
        assert r.status == 409 and r.json["errorCode"] == "RETRY_IN_15SEC", r
    assert stack.issue(p.api_key, stack.session(u)).status == 204
    assert_429(stack.issue(p.api_key, stack.session(u)), 2, 3600)


def test_an_idempotent_retry_of_a_429_is_a_new_call_after_the_window(stack):
    p = programme(stack, {"challenges-per-user": "1/3s"})
    u = stack.make_user(p)
    token = stack.session(u)
    fresh_window(3, 2)
    assert stack.issue(p.api_key, token).status == 204
    ref = str(uuid.uuid4())
    reset = assert_429(stack.issue(p.api_key, token, idem=ref), 1, 3)
    time.sleep(reset + 0.1)
    assert stack.issue(p.api_key, token, idem=ref).status == 204
    assert stack.issue(p.api_key, token, idem=ref).status == 204  # now a replay
    assert challenge_count(stack, u) == 2


def test_challenges_per_number_counts_every_user_of_the_number(stack):
    p = programme(stack, {"challenges-per-number": "3/1h"}, sandbox=False)
    users = [stack.make_user(p, mobile=GB_MOBILE) for _ in range(3)]
    other = stack.make_user(p, mobile=gb_mobile(1))
    fresh_window(3600, 30)
    assert stack.issue(p.api_key, stack.session(users[0])).status == 204
    assert stack.issue(p.api_key, stack.session(users[1])).status == 204
    assert stack.issue(p.api_key, stack.session(users[2])).status == 204
    assert_429(stack.issue(p.api_key, stack.session(users[0])), 3, 3600)
    assert outbox_to(stack, p, GB_MOBILE) == 3
    assert stack.issue(p.api_key, stack.session(other)).status == 204


def test_challenges_per_prefix(stack):
    p = programme(stack, {"challenges-per-prefix": "3/1h"}, sandbox=False,
                  extra=["--prefix-digits", "3"])
    users = [stack.make_user(p, mobile=gb_mobile(i)) for i in range(4)]
    elsewhere = stack.make_user(p, mobile="+35699123456")
    fresh_window(3600, 30)
    for u in users[:3]:
        assert stack.issue(p.api_key, stack.session(u)).status == 204
    assert_429(stack.issue(p.api_key, stack.session(users[3])), 3, 3600)
    assert outbox_to(stack, p, "+44740%") == 3
    assert stack.issue(p.api_key, stack.session(elsewhere)).status == 204
    # a longer prefix tells the numbers apart again
    stack.ctl("programme", "set", p.id, "--prefix-digits", "8")
    assert stack.issue(p.api_key, stack.session(users[3])).status == 204


def test_challenges_per_programme_is_a_spend_cap(stack):
    p = programme(stack, {"challenges-per-programme": "4/1h"})
    users = [stack.make_user(p, mobile=gb_mobile(i)) for i in range(5)]
    fresh_window(3600, 30)
    for u in users[:4]:
        assert stack.issue(p.api_key, stack.session(u)).status == 204
    assert_429(stack.issue(p.api_key, stack.session(users[4])), 4, 3600)
    q = programme(stack, {"challenges-per-programme": "4/1h"})
    assert stack.issue(p.api_key, stack.session(users[4])).status == 429
    assert stack.issue(q.api_key, stack.session(stack.make_user(q))).status == 204


@pytest.mark.parametrize("limit", ["challenges-per-number", "challenges-per-prefix",
                                   "challenges-per-programme"])
def test_each_challenge_limit_allows_again_after_its_window(stack, limit):
    p = programme(stack, {limit: "1/3s"}, extra=["--prefix-digits", "3"])
    a, b = stack.make_user(p, mobile=gb_mobile(500)), stack.make_user(p, mobile=gb_mobile(500))
    if limit != "challenges-per-number":
        b = stack.make_user(p, mobile=gb_mobile(501))
    fresh_window(3, 2)
    assert stack.issue(p.api_key, stack.session(a)).status == 204
    reset = assert_429(stack.issue(p.api_key, stack.session(b)), 1, 3)
    time.sleep(reset + 0.1)
    assert stack.issue(p.api_key, stack.session(b)).status == 204


# -- logins ---------------------------------------------------------------------
def login(stack, p, email, password):
    return stack.login_response(p.api_key, email, password)


def test_login_failures_per_user_refuse_even_the_right_password(stack):
    p = programme(stack, {"login-failures-per-user": "3/4s"})
    u = stack.make_user(p)
    fresh_window(4, 3)
    for _ in range(3):
        assert login(stack, p, u.email, "wrong").status == 403
    reset = assert_429(login(stack, p, u.email, u.password), 3, 4)
    assert_429(login(stack, p, u.email.upper(), u.password), 3, 4)  # case does not help
    [[sessions]] = stack.psql("SELECT count(*) FROM stepup.sessions WHERE user_id = :'u'",
                              u=u.id)
    assert sessions == "0"
    time.sleep(reset + 0.1)
    assert login(stack, p, u.email, u.password).status == 200


def test_a_successful_login_is_not_a_failure(stack):
    p = programme(stack, {"login-failures-per-user": "3/1h"})
    u = stack.make_user(p)
    fresh_window(3600, 30)
    assert login(stack, p, u.email, "wrong").status == 403
    assert login(stack, p, u.email, "wrong").status == 403
    for _ in range(5):
        assert login(stack, p, u.email, u.password).status == 200
    assert login(stack, p, u.email, "wrong").status == 403
    assert_429(login(stack, p, u.email, u.password), 3, 3600)


def test_an_unknown_email_is_refused_exactly_as_a_known_one(stack):
    p = programme(stack, {"login-failures-per-user": "2/1h"})
    u = stack.make_user(p)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    fresh_window(3600, 30)
    answers, at = {}, {}
    for email in (u.email, unknown):
        first = [login(stack, p, email, "wrong") for _ in range(2)]
        assert [r.status for r in first] == [403, 403]
        answers[email] = login(stack, p, email, "wrong")
        at[email] = time.monotonic()
    known, other = answers[u.email], answers[unknown]
    apart = at[unknown] - at[u.email]  # scrypt takes its time (seconds under valgrind)
    assert known.status == other.status == 429
    # the same body but for the seconds, which a second may separate
    def without_seconds(r):
        return {k: re.sub(r"[0-9]+ seconds", "N seconds", v) for k, v in r.json.items()}
    assert without_seconds(known) == without_seconds(other)
    for h in ("x-ratelimit-limit", "Content-Type"):
        assert known.headers[h] == other.headers[h], h
    for h in ("x-ratelimit-reset", "Retry-After"):  # the same window's end
        assert abs(int(known.headers[h]) - int(other.headers[h]) - apart) <= 1.5, (h, apart)
    names = lambda r: sorted(k.lower() for k in r.headers.keys())  # noqa: E731
    assert names(known) == names(other)
    # and the unknown address is not stored
    rows = stack.psql("SELECT subject FROM stepup.limit_counters WHERE programme_id = :'p'",
                      p=p.id)
    assert all(unknown not in r[0] for r in rows)


@pytest.fixture
def behind_a_proxy(stack):
    """stepup-fcgi trusting 127.0.0.1 as a proxy, so that tests choose their
    address with X-Forwarded-For; restored afterwards."""
    def set_proxies(value):
        subprocess.run([str(BUILD / "src" / "fcgi" / "stepup-fcgi"), "--update-config",
                        str(stack.conf_path), "--set", f"trusted_proxies={value}"],
                       check=True, capture_output=True, timeout=30)
        stack.restart_fcgi()

    set_proxies("127.0.0.1")
    yield
    set_proxies("")


def test_login_per_address_counts_the_forwarded_address(stack, behind_a_proxy):
    p = programme(stack, {"login-per-address": "3/1h"})
    u = stack.make_user(p)
    fresh_window(3600, 30)

    def login_from(addr, password=None):
        return stack.request("POST", "/login_with_password", api_key=p.api_key,
                             headers={"X-Forwarded-For": addr},
                             body={"email": u.email, "password": {"value": password or u.password}})

    assert login_from("198.51.100.7").status == 200
    assert login_from("198.51.100.7", "wrong").status == 403  # every attempt counts
    assert login_from("6.6.6.6, 198.51.100.7").status == 200  # the rightmost untrusted hop
    assert_429(login_from("198.51.100.7"), 3, 3600)
    assert login_from("198.51.100.8").status == 200
    # an IPv6 client is counted by its /64
    for i in range(3):
        assert login_from(f"2001:db8:1:2::{i + 1}").status == 200
    assert_429(login_from("2001:db8:1:2:ffff::9"), 3, 3600)
    assert login_from("2001:db8:1:3::1").status == 200
    # after its window, the same address may log in again
    stack.ctl("programme", "set", p.id, "--limit", "login-per-address=1/3s")
    fresh_window(3, 2)
    assert login_from("203.0.113.9").status == 200
    reset = assert_429(login_from("203.0.113.9"), 1, 3)
    time.sleep(reset + 0.1)
    assert login_from("203.0.113.9").status == 200
    [[addr]] = stack.psql("SELECT host(client_addr) FROM stepup.sessions WHERE user_id = :'u'"
                          " ORDER BY created_at LIMIT 1", u=u.id)
    assert addr == "198.51.100.7"


# -- housekeeping ----------------------------------------------------------------
def test_the_sender_prunes_counters_whose_window_ended(stack, gateway, senders):
    p = stack.make_programme(limits={"challenges-per-user": "5/1h"})
    u, v = stack.make_user(p), stack.make_user(p)
    assert stack.issue(p.api_key, stack.session(u)).status == 204
    assert stack.issue(p.api_key, stack.session(v)).status == 204
    # u's counter belongs to a window that ended an hour ago
    stack.psql("UPDATE stepup.limit_counters SET window_start = window_start - interval '1 hour'"
               " WHERE programme_id = :'p' AND subject = :'u'", p=p.id, u=u.id)
    senders.start()  # prunes at start, then about once a minute

    def counted():
        return {r[0] for r in stack.psql("SELECT subject FROM stepup.limit_counters"
                                         " WHERE programme_id = :'p' AND limit_name ="
                                         " 'challenges-per-user'", p=p.id)}
    wait_until(lambda: u.id not in counted(), what="the ended counter to go")
    assert v.id in counted()
