"""GET /metrics (issue 9, operations): the Prometheus text format, parsed
with Prometheus's own parser; counters that move with real requests (an
issue, a 409, a verify, a 429, outbox rows, a delivery attempt); a
consistent histogram; metrics_allow (403 for other callers, applied by a
reload); the answer while the database is down; totals that add up
across the processes of mod_fcgid (metrics_file); the route in the log
line of each request."""

import http.client
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import UUID_RE
from sender_fixtures import Flow, gateway, senders  # noqa: F401 (fixtures)
from test_40_limits import programme
from test_60_reload import hup_and_wait, log_size, restore, update  # noqa: F401 (fixture)
from test_90_outage import poll

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ISSUE = "/stepup/challenges/otp/{channel}"
VERIFY = "/stepup/challenges/otp/{channel?}/verify"

PROCESS_FAMILIES = {"stepup_http_requests", "stepup_http_request_duration_seconds",
                    "stepup_database_reconnects", "stepup_database_up"}
DATABASE_FAMILIES = {"stepup_challenges_issued", "stepup_challenge_verifications",
                     "stepup_rate_limited", "stepup_outbox_messages",
                     "stepup_sms_delivery_attempts"}


def get_metrics(stack, headers=None):
    """GET /metrics on a new connection: (status, headers, text)."""
    conn = http.client.HTTPConnection(stack.host, stack.port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers=headers or {})
        r = conn.getresponse()
        return r.status, r.msg, r.read().decode("utf-8")
    finally:
        conn.close()


class Scrape:
    """One parsed scrape: its families, and each sample by name and labels."""

    def __init__(self, text):
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {}
        for family in self.families.values():
            for s in family.samples:
                key = (s.name, frozenset(s.labels.items()))
                assert key not in self.samples, f"sample {key} twice"
                self.samples[key] = s.value

    def get(self, name, **labels):
        """A sample's value, 0 when absent (a counter not yet counted)."""
        return self.samples.get((name, frozenset(labels.items())), 0)

    def requests(self, route, status):
        return self.get("stepup_http_requests_total", route=route, status=str(status))

    def route_requests(self, route):
        """The route's requests, whatever their status."""
        return sum(v for (name, labels), v in self.samples.items()
                   if name == "stepup_http_requests_total" and ("route", route) in labels)


def scrape(stack):
    status, headers, text = get_metrics(stack)
    assert status == 200, text
    assert headers["Content-Type"] == CONTENT_TYPE
    assert UUID_RE.match(headers["request-ref"] or ""), dict(headers)
    return Scrape(text)


def assert_histogram_consistent(s):
    """Per route: buckets cumulative and ending in +Inf == _count, a
    non-negative _sum, and _count == that route's requests over statuses."""
    family = s.families["stepup_http_request_duration_seconds"]
    assert family.type == "histogram"
    routes = {sample.labels["route"] for sample in family.samples}
    assert routes, s.text
    for route in routes:
        buckets = sorted(((float(x.labels["le"]), x.value) for x in family.samples
                          if x.name.endswith("_bucket") and x.labels["route"] == route))
        assert [le for le, _ in buckets][-1] == float("inf")
        assert [le for le, _ in buckets][:-1] == [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25, 0.5, 1.0, 2.5]
        values = [v for _, v in buckets]
        assert values == sorted(values), (route, buckets)
        count = s.get("stepup_http_request_duration_seconds_count", route=route)
        assert values[-1] == count, (route, buckets, count)
        assert s.get("stepup_http_request_duration_seconds_sum", route=route) >= 0
        assert s.route_requests(route) == count, (route, s.route_requests(route), count)


def test_format_types_and_help(stack):
    s = scrape(stack)
    assert PROCESS_FAMILIES | DATABASE_FAMILIES <= set(s.families), sorted(s.families)
    for name in PROCESS_FAMILIES | DATABASE_FAMILIES:
        assert s.families[name].documentation, name
        assert f"# HELP {name}" in s.text and f"# TYPE {name}" in s.text
    types = {name: s.families[name].type for name in s.families}
    assert types["stepup_http_requests"] == "counter"
    assert types["stepup_http_request_duration_seconds"] == "histogram"
    assert types["stepup_database_up"] == "gauge"
    assert types["stepup_outbox_messages"] == "gauge"
    assert types["stepup_sms_delivery_attempts"] == "counter"
    assert s.get("stepup_database_up") == 1
    # the outbox's depth: both states always there, as the table holds them
    [[pending]] = stack.psql("SELECT count(*) FROM stepup.sms_outbox WHERE status = 'PENDING'")
    assert s.get("stepup_outbox_messages", status="PENDING") == int(pending)
    assert ("stepup_outbox_messages", frozenset({("status", "SENDING")})) in s.samples
    assert_histogram_consistent(s)


def test_counters_move_with_requests(stack):
    p = stack.make_programme()  # sandbox: code 123456, nothing sent
    u = stack.make_user(p)
    token = stack.session(u)
    before = scrape(stack)

    issued = stack.issue(p.api_key, token)
    assert issued.status == 204
    r = stack.issue(p.api_key, token)
    assert r.status == 409 and r.json == {"errorCode": "RETRY_IN_15SEC"}
    r = stack.verify(p.api_key, token, "000000")
    assert r.status == 409 and r.json == {"errorCode": "VERIFICATION_CODE_INVALID"}
    assert stack.verify(p.api_key, token).status == 204
    assert stack.request("GET", "/no/such/path").status == 404

    limited = programme(stack, {"challenges-per-user": "1/1h"})
    lu = stack.make_user(limited)
    ltoken = stack.session(lu)
    assert stack.issue(limited.api_key, ltoken).status == 204
    assert stack.issue(limited.api_key, ltoken).status == 429

    after = scrape(stack)

    def moved(name, **labels):
        return after.get(name, **labels) - before.get(name, **labels)

    assert after.requests(ISSUE, 204) - before.requests(ISSUE, 204) == 2
    assert after.requests(ISSUE, 409) - before.requests(ISSUE, 409) == 1
    assert after.requests(ISSUE, 429) - before.requests(ISSUE, 429) == 1
    assert after.requests(VERIFY, 409) - before.requests(VERIFY, 409) == 1
    assert after.requests(VERIFY, 204) - before.requests(VERIFY, 204) == 1
    assert after.requests("unmatched", 404) - before.requests("unmatched", 404) == 1
    # the earlier scrape is counted under its route, no raw path anywhere
    assert after.requests("/metrics", 200) - before.requests("/metrics", 200) == 1
    assert "/stepup/challenges/otp/SMS" not in after.text
    assert moved("stepup_http_request_duration_seconds_count", route=ISSUE) == 4

    assert moved("stepup_challenges_issued_total", purpose="STEPUP") == 2
    assert moved("stepup_challenge_verifications_total", outcome="OK") == 1
    assert moved("stepup_challenge_verifications_total", outcome="VERIFICATION_CODE_INVALID") == 1
    assert moved("stepup_rate_limited_total", limit="challenges-per-user") == 1
    assert_histogram_consistent(after)

    # The log line of a request names its route, beside method, path,
    # request-ref, status and duration.
    log = stack.fcgi_log().read_text(errors="replace")
    [line] = [x for x in log.splitlines() if f"ref={issued.ref}" in x]
    assert f"POST /stepup/challenges/otp/SMS route={ISSUE} -> 204 (" in line, line
    assert token not in log and p.api_key not in log


def test_outbox_and_delivery_attempts(stack, gateway, senders):  # noqa: F811 (fixtures)
    flow = Flow(stack)
    before = scrape(stack)
    outbox_id = flow.issue()
    queued = scrape(stack)
    [[pending]] = stack.psql("SELECT count(*) FROM stepup.sms_outbox WHERE status = 'PENDING'")
    assert queued.get("stepup_outbox_messages", status="PENDING") == int(pending)
    assert queued.get("stepup_outbox_messages", status="PENDING") >= 1
    assert queued.get("stepup_challenges_issued_total", purpose="STEPUP") - \
        before.get("stepup_challenges_issued_total", purpose="STEPUP") == 1

    senders.start()
    flow.wait_status(outbox_id, "SENT")
    [attempt] = flow.attempts(outbox_id)
    assert attempt["status"] == "SENT" and attempt["provider"] == "http", attempt
    sent = scrape(stack)
    delta = sent.get("stepup_sms_delivery_attempts_total", provider="http", outcome="SENT") - \
        before.get("stepup_sms_delivery_attempts_total", provider="http", outcome="SENT")
    # this test's message, and whatever earlier tests left pending
    [[others]] = stack.psql("SELECT count(*) FROM stepup.sms_attempts a"
                            " WHERE a.provider = 'http' AND a.status = 'SENT'"
                            "   AND a.recorded_at >= now() - interval '1 minute'")
    assert 1 <= delta <= int(others), (delta, others)
    # the counter outlives the rows it counted
    stack.psql("DELETE FROM stepup.sms_attempts WHERE outbox_id = :'o'", o=outbox_id)
    assert scrape(stack).get("stepup_sms_delivery_attempts_total", provider="http",
                             outcome="SENT") == sent.get("stepup_sms_delivery_attempts_total",
                                                         provider="http", outcome="SENT")


def test_metrics_allow_refuses_other_callers(stack, restore):  # noqa: F811 (fixture)
    assert get_metrics(stack)[0] == 200
    update(stack, metrics_allow="192.0.2.1 2001:db8::/32")
    hup_and_wait(stack, log_size(stack), "SIGHUP: settings reloaded")
    status, headers, text = get_metrics(stack)
    assert status == 403, text
    assert headers["Content-Type"].startswith("application/json")
    assert UUID_RE.match(headers["request-ref"] or "")
    assert '"code":"FORBIDDEN"' in text and "stepup_" not in text
    # X-Forwarded-For is believed only from a trusted proxy
    assert get_metrics(stack, {"X-Forwarded-For": "192.0.2.1"})[0] == 403
    update(stack, trusted_proxies="127.0.0.1")
    hup_and_wait(stack, log_size(stack), "SIGHUP: settings reloaded")
    assert get_metrics(stack, {"X-Forwarded-For": "192.0.2.1"})[0] == 200
    assert get_metrics(stack, {"X-Forwarded-For": "198.51.100.7"})[0] == 403
    # the other endpoints do not care
    assert stack.request("GET", "/health").status == 200


def test_database_down_still_answers_with_the_process_series(stack):
    before = scrape(stack)
    stack.part("down", "postgres")
    try:
        status, headers, text = get_metrics(stack)
        assert status == 200, text
        assert headers["Content-Type"] == CONTENT_TYPE
        s = Scrape(text)
        assert s.get("stepup_database_up") == 0
        assert PROCESS_FAMILIES <= set(s.families)
        assert not DATABASE_FAMILIES & set(s.families), sorted(s.families)
        assert s.requests("/metrics", 200) >= before.requests("/metrics", 200) + 1
        assert stack.request("GET", "/health").status == 503
    finally:
        stack.part("up", "postgres")
    assert poll(lambda: stack.request("GET", "/health").status == 200, 15)

    def database_up():
        s = scrape(stack)
        return s if s.get("stepup_database_up") == 1 else None

    after = poll(database_up, 15)
    assert after is not None
    assert DATABASE_FAMILIES <= set(after.families)
    # the workers that answered since came back through a reconnect (but
    # through PgBouncer, whose connections to them outlive the outage: it
    # is PgBouncer that connects again)
    if "STEPUP_PGBOUNCER_PORT" not in stack.env:
        assert after.get("stepup_database_reconnects_total") > \
            before.get("stepup_database_reconnects_total")
    assert after.requests("/health", 503) >= before.requests("/health", 503) + 1
    # and every worker is back before the next test
    assert poll(lambda: all(stack.request("GET", "/health").status == 200 for _ in range(20)), 15)


def test_totals_add_up_across_processes(stack):
    """Under mod_fcgid several processes answer; each scrape reaches one of
    them and must still give the totals (metrics_file).  Elsewhere there is
    one process, and the same must hold."""
    before = scrape(stack).route_requests("/health")
    fcgid = stack.env.get("STEPUP_HTTPD") == "apache-fcgid"
    sent, lock, threads = [0], threading.Lock(), []

    def hit():
        # mod_fcgid starts more processes only while every one is busy (and
        # after a restart of Apache it runs one): keep 12 clients at it,
        # rounds of 60 requests, until it runs several (or 30 s passed).
        deadline = time.monotonic() + 30
        while True:
            for _ in range(5):
                stack.request("GET", "/health")
            with lock:
                sent[0] += 5
            if not fcgid or len(stack.fcgi_pids()) > 1 or time.monotonic() > deadline:
                return

    for _ in range(12):
        threads.append(threading.Thread(target=hit))
        threads[-1].start()
    for t in threads:
        t.join()
    n = sent[0]
    if fcgid:
        assert len(stack.fcgi_pids()) > 1, "mod_fcgid ran one process for 30 s: nothing to add up"
        assert (stack.state_dir / "run" / "httpd" / "stepup-metrics").exists()
    # Scrapes in parallel spread over the processes; each sees every request.
    results = []

    def one():
        results.append(scrape(stack).route_requests("/health"))

    scrapers = [threading.Thread(target=one) for _ in range(8)]
    for t in scrapers:
        t.start()
    for t in scrapers:
        t.join()
    assert results == [before + n] * 8, (before, results)
