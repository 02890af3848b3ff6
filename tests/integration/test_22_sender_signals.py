"""stepup-sender and its signals: SIGTERM with sends in flight lets them
finish and be recorded, gives back what was claimed and not handed over,
and exits 0 (nothing lost, nothing doubled); a sender killed with SIGKILL
loses nothing either (its lease runs out, the attempt is recorded as LOST,
and the message is sent again)."""

import time

from sender_fixtures import (Flow, OutboxLock, all_sent, gateway, sender_waiting_for_lock,  # noqa: F401
                             senders, wait_until)


def test_sigterm_with_sends_in_flight_records_them_and_leaves_the_rest(stack, gateway, senders):
    """SIGTERM while 4 sends are in flight: the 4 finish and are recorded
    SENT, the other 16 were never claimed and stay PENDING, untouched; the
    sender exits 0 within the gateway's time, and another sender delivers
    the rest, each once."""
    flow = Flow(stack)
    ids = flow.insert(20)
    gateway.rule(delay=1.5)
    s = senders.start(sends_in_flight=4, batch_size=4, lease_seconds=30, http_timeout_ms=5000)
    first = gateway.wait_for(lambda reqs: len(reqs) == 4, message_ids=ids)
    time.sleep(0.2)
    assert len(gateway.requests(message_ids=ids)) == 4, "more than 4 in flight"
    t0 = time.monotonic()
    assert s.terminate(timeout=20) == 0
    elapsed = time.monotonic() - t0
    assert elapsed < 4, f"SIGTERM took {elapsed:.1f} s"
    assert "stopped" in s.log()

    rows = {r["id"]: r for r in flow.rows()}
    in_flight = {r["messageId"] for r in first}
    assert all(rows[i]["status"] == "SENT" for i in in_flight), "a send in flight was not recorded"
    rest = [rows[i] for i in ids if i not in in_flight]
    assert [r["status"] for r in rest] == ["PENDING"] * 16
    assert all(r["attempts"] == 0 and r["lease_owner"] == "" and r["has_sealed"] for r in rest)
    assert len(gateway.requests(message_ids=ids)) == 4

    gateway.reset()
    senders.start()
    wait_until(lambda: all_sent(flow), what="all sent")
    assert sorted(r["messageId"] for r in gateway.requests(message_ids=ids)) == \
        sorted(r["id"] for r in rest)


def test_sigterm_during_a_claim_gives_the_claim_back(stack, gateway, senders):
    """SIGTERM while the sender waits for its claim: once the claim comes
    back, nothing of it is handed over; every message goes back to PENDING
    untouched (attempt returned) and the sender exits 0."""
    flow = Flow(stack)
    ids = flow.insert(6)
    lock = OutboxLock(stack, 2)
    s = senders.start(lease_seconds=30, http_timeout_ms=5000)
    wait_until(lambda: sender_waiting_for_lock(stack, s), timeout=5, what="the claim waiting")
    s.signal(15)
    lock.wait()
    assert s.proc.wait(timeout=20) == 0
    log = s.log()
    assert "released 6 unsent messages" in log and "stopped" in log, log[-2000:]
    rows = flow.rows()
    assert [r["status"] for r in rows] == ["PENDING"] * 6
    assert all(r["attempts"] == 0 and r["lease_owner"] == "" and r["has_sealed"] for r in rows)
    assert gateway.requests(message_ids=ids) == []
    senders.start()
    wait_until(lambda: all_sent(flow), what="all sent")
    assert sorted(r["messageId"] for r in gateway.requests(message_ids=ids)) == sorted(ids)


def test_sigkill_loses_nothing(stack, gateway, senders):
    """SIGKILL during a send: after the lease (4 s here) the message is
    claimed again; the interrupted attempt is recorded as LOST; the text
    went out twice (at-least-once: the gateway had it) but is SENT once."""
    flow = Flow(stack)
    [outbox_id] = flow.insert(1)
    gateway.rule(delay=3, times=1, message_id=outbox_id)
    s = senders.start(lease_seconds=4, http_timeout_ms=1000, exec_timeout_ms=1000)
    gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=[outbox_id])
    s.kill()
    assert flow.row(outbox_id)["status"] == "SENDING"
    other = senders.start(lease_seconds=4, http_timeout_ms=1000, exec_timeout_ms=1000)
    row = flow.wait_status(outbox_id, "SENT", timeout=15)
    assert not row["has_sealed"]
    attempts = flow.attempts(outbox_id)
    assert [(a["attempt"], a["status"]) for a in attempts] == [("1", "LOST"), ("2", "SENT")]
    assert s.owner_marker in attempts[0]["sender"]
    assert other.owner_marker in attempts[1]["sender"]
    assert len(gateway.requests(message_ids=[outbox_id])) == 2


def test_two_senders_share_the_work_without_doubles(stack, gateway, senders):
    flow = Flow(stack)
    ids = flow.insert(300)
    # 7 in flight each, 10 ms a request: neither can hold the whole outbox
    gateway.rule(delay=0.01)
    a = senders.start(batch_size=7, sends_in_flight=7)
    b = senders.start(batch_size=7, sends_in_flight=7)
    wait_until(lambda: all(r["status"] == "SENT" for r in flow.rows()), timeout=60,
               what="all sent")
    reqs = gateway.requests(message_ids=ids)
    assert len(reqs) == 300 and len({r["messageId"] for r in reqs}) == 300
    by_sender = stack.psql("SELECT count(*) FILTER (WHERE sender LIKE :'a'),"
                           "       count(*) FILTER (WHERE sender LIKE :'b')"
                           "  FROM stepup.sms_attempts a JOIN stepup.sms_outbox o ON o.id = a.outbox_id"
                           " WHERE o.programme_id = :'p'",
                           a=f"%{a.owner_marker}%", b=f"%{b.owner_marker}%", p=flow.programme.id)
    na, nb = map(int, by_sender[0])
    assert na + nb == 300 and na > 0 and nb > 0, (na, nb)
