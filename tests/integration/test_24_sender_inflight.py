"""stepup-sender with many sends in flight at once (sends_in_flight): the
gateway really holds that many requests at once and never more; the lease
rule (a message is handed over only while its claim's lease outlives that
send's timeout by the margin) under a claim that came back late; SIGHUP
with sends in flight (SIGTERM: test_22); retries, back-off, DEAD and permanent
failures when many messages fail at once; the exec provider's programs
running side by side."""

import time

from sender_fixtures import (Flow, OutboxLock, all_sent, gateway, sender_waiting_for_lock,  # noqa: F401
                             senders, wait_until, write_script)


def test_sends_in_flight_at_once_and_never_more(stack, gateway, senders):
    """60 messages into a gateway that takes 0.6 s each, 16 in flight: the
    gateway holds exactly 16 at once, and they are done in a fraction of the
    36 s that one at a time would take."""
    flow = Flow(stack)
    ids = flow.insert(60)
    gateway.rule(delay=0.6)
    t0 = time.monotonic()
    senders.start(sends_in_flight=16, batch_size=8)
    wait_until(lambda: all_sent(flow), timeout=30, what="all sent")
    elapsed = time.monotonic() - t0
    reqs = gateway.requests(message_ids=ids)
    assert sorted(r["messageId"] for r in reqs) == sorted(ids), "a message sent twice or never"
    assert gateway.max_concurrent(ids) == 16, gateway.max_concurrent(ids)
    # 60 / 16 rounds of 0.6 s: about 2.4 s; one at a time: 36 s
    assert elapsed < 10, f"60 messages took {elapsed:.1f} s"
    attempts = stack.psql("SELECT count(*), count(DISTINCT a.outbox_id) FROM stepup.sms_attempts a"
                          " JOIN stepup.sms_outbox o ON o.id = a.outbox_id"
                          " WHERE o.programme_id = :'p' AND a.status = 'SENT'",
                          p=flow.programme.id)
    assert attempts == [["60", "60"]], attempts


def test_one_in_flight_sends_one_at_a_time(stack, gateway, senders):
    """sends_in_flight = 1 (batch_size 1) is the sender of old: one request at a time."""
    flow = Flow(stack)
    ids = flow.insert(5)
    gateway.rule(delay=0.2)
    senders.start(sends_in_flight=1, batch_size=1)
    wait_until(lambda: all_sent(flow), timeout=20, what="all sent")
    assert gateway.max_concurrent(ids) == 1
    assert len(gateway.requests(message_ids=ids)) == 5


def test_a_claim_back_too_late_for_its_lease_is_given_back_unsent(stack, gateway, senders):
    """The lease (6 s) less the send's timeout (2 s) less the margin (2 s)
    leaves 2 s from the start of a claim to hand its messages over.  A claim
    that waits 3.5 s for a lock comes back too late: its messages are given
    back untouched, never sent under that lease, and sent by the next
    claim, each once."""
    flow = Flow(stack)
    ids = flow.insert(5)
    lock = OutboxLock(stack, 3.5)
    s = senders.start(lease_seconds=6, http_timeout_ms=2000, exec_timeout_ms=2000)
    wait_until(lambda: sender_waiting_for_lock(stack, s), timeout=5, what="the claim waiting")
    lock.wait()
    wait_until(lambda: all_sent(flow), timeout=15, what="all sent")
    log = s.log()
    assert "the lease would run out before the next send could time out" in log, log[-2000:]
    assert "released 5 unsent messages" in log, log[-2000:]
    reqs = gateway.requests(message_ids=ids)
    assert sorted(r["messageId"] for r in reqs) == sorted(ids)
    for outbox_id in ids:
        # the late claim's attempt was given back: the one attempt is attempt 1
        assert [(a["attempt"], a["status"]) for a in flow.attempts(outbox_id)] == [("1", "SENT")]


def test_sighup_waits_for_the_sends_in_flight(stack, gateway, senders):
    """SIGHUP with sends in flight: they finish with the providers they
    started on (http), and only then does the new configuration (log)
    take over; nothing is sent twice or lost."""
    flow = Flow(stack)
    ids = flow.insert(4)
    gateway.rule(delay=1.5)
    s = senders.make(sends_in_flight=8, batch_size=4, lease_seconds=30, http_timeout_ms=5000)
    s.start()
    gateway.wait_for(lambda reqs: len(reqs) == 4, message_ids=ids)
    s.settings["provider"] = "log"
    s.write_config()
    s.signal(1)  # SIGHUP
    wait_until(lambda: "configuration reloaded" in s.log(), timeout=10, what="reload")
    assert gateway.max_concurrent(ids) == 4
    wait_until(lambda: all_sent(flow), what="the 4 recorded")
    assert [r["provider"] for r in flow.rows()] == ["http"] * 4
    later = flow.insert(3)
    wait_until(lambda: all_sent(flow), what="all sent")
    assert {flow.row(i)["provider"] for i in later} == {"log"}
    assert len(gateway.requests(message_ids=ids + later)) == 4


def test_retries_dead_and_permanent_under_concurrency(stack, gateway, senders):
    """30 messages at once, 10 in flight: a third fail twice then go
    through, a third fail until DEAD, a third are refused for good; each
    message's attempts follow the rules as if it were alone, with the
    back-off between its tries."""
    flow = Flow(stack)
    ids = flow.insert(30)
    flaky, dead, refused = ids[:10], ids[10:20], ids[20:]
    for i in flaky:
        gateway.rule(status=500, times=2, message_id=i)
    for i in dead:
        gateway.rule(status=503, message_id=i)
    for i in refused:
        gateway.rule(status=400, message_id=i)
    senders.start(sends_in_flight=10, batch_size=5, max_attempts=4, backoff_base_ms=200,
                  backoff_max_ms=400)
    wait_until(lambda: all(r["status"] in ("SENT", "DEAD") for r in flow.rows()), timeout=30,
               what="all ended")
    assert gateway.max_concurrent(ids) <= 10
    for i in flaky:
        assert flow.row(i)["status"] == "SENT"
        assert [a["status"] for a in flow.attempts(i)] == ["RETRY", "RETRY", "SENT"]
        reqs = gateway.requests(message_ids=[i])
        assert [r["status"] for r in reqs] == [500, 500, 200]
        assert reqs[1]["at"] - reqs[0]["at"] >= 0.095, "no back-off between attempts"
    for i in dead:
        row = flow.row(i)
        assert row["status"] == "DEAD" and row["last_error"].startswith("HTTP 503")
        assert [a["status"] for a in flow.attempts(i)] == ["RETRY", "RETRY", "RETRY", "DEAD"]
    for i in refused:
        assert flow.row(i)["status"] == "DEAD"
        assert [(a["status"], a["http_status"]) for a in flow.attempts(i)] == [("PERMANENT", "400")]
    time.sleep(0.5)
    assert len(gateway.requests(message_ids=dead)) == 40, "tried again after DEAD"
    assert len(gateway.requests(message_ids=refused)) == 10


def test_exec_programs_run_side_by_side(stack, gateway, senders):
    """exec with 6 in flight: six programs that take 1 s each run at once
    (their runs overlap), one that hangs is killed at exec_timeout_ms while
    the others go through, and every text arrives."""
    out = stack.state_dir / "sender-tests" / "exec-par"
    out.mkdir(parents=True, exist_ok=True)
    for f in out.iterdir():
        f.unlink()
    script = write_script(stack, "slow-sms.sh", f"""
d={out}
start=$(date +%s.%N)
text=$(cat)
if [ ! -e $d/hung ] && mkdir $d/hung 2>/dev/null; then sleep 30; fi
sleep 1
echo "$start $(date +%s.%N) $1" >> $d/runs
""")
    flow = Flow(stack)
    flow.set("--sms-provider", "exec")
    ids = flow.insert(6)
    t0 = time.monotonic()
    senders.start(exec_program=str(script), exec_timeout_ms=2500, lease_seconds=8, sends_in_flight=6,
                  batch_size=6, max_attempts=3, backoff_base_ms=100, backoff_max_ms=100)
    wait_until(lambda: all_sent(flow), timeout=20, what="all sent")
    elapsed = time.monotonic() - t0
    runs = sorted(tuple(map(float, line.split()[:2]))
                  for line in (out / "runs").read_text().splitlines())
    assert len(runs) == 6, runs
    # the five that did not hang ran at once: 1 s each, within 2.5 s together
    first = runs[:5]
    assert max(e for _, e in first) - min(s for s, _ in first) < 2.5, runs
    assert max(s for s, _ in first) < min(e for _, e in first), f"runs did not overlap: {runs}"
    killed = [a for i in ids for a in flow.attempts(i) if a["status"] == "RETRY"]
    assert len(killed) == 1 and killed[0]["exit_code"] == "-9", killed
    assert "killed after 2500 ms" in killed[0]["error"]
    assert elapsed < 10, f"took {elapsed:.1f} s"
    for f in out.iterdir():
        f.unlink() if f.is_file() else f.rmdir()
