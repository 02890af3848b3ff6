"""stepup-sender and its signals: SIGTERM with messages in flight finishes
the send under way, gives the rest back and exits 0 (nothing lost, nothing
doubled); a sender killed with SIGKILL loses nothing either (its lease runs
out, the attempt is recorded as LOST, and the message is sent again)."""

import time

from sender_fixtures import Flow, gateway, senders, wait_until  # noqa: F401 (fixtures)


def test_sigterm_finishes_the_send_in_flight_and_releases_the_rest(stack, gateway, senders):
    flow = Flow(stack)
    ids = flow.insert(6)
    gateway.rule(delay=1.5)
    s = senders.start(batch_size=10, lease_seconds=30, http_timeout_ms=5000)
    # The first send is in flight (the gateway holds it for 1.5 s).
    [first] = gateway.wait_for(lambda reqs: len(reqs) == 1, message_ids=ids)
    t0 = time.monotonic()
    assert s.terminate(timeout=20) == 0
    elapsed = time.monotonic() - t0
    assert elapsed < 5, f"SIGTERM took {elapsed:.1f} s"
    log = s.log()
    assert "released 5 unsent messages" in log and "stopped" in log, log[-2000:]

    rows = {r["id"]: r for r in flow.rows()}
    assert rows[first["messageId"]]["status"] == "SENT", "the send in flight was not finished"
    rest = [rows[i] for i in ids if i != first["messageId"]]
    assert [r["status"] for r in rest] == ["PENDING"] * 5
    assert all(r["attempts"] == 0 and r["lease_owner"] == "" and r["has_sealed"] for r in rest)
    assert len(gateway.requests(message_ids=ids)) == 1

    # Another sender delivers the rest, each exactly once.
    gateway.reset()
    senders.start()
    wait_until(lambda: all(r["status"] == "SENT" for r in flow.rows()), what="all sent")
    reqs = gateway.requests(message_ids=ids)
    assert sorted(r["messageId"] for r in reqs) == sorted(r["id"] for r in rest)


def test_sigkill_loses_nothing(stack, gateway, senders):
    """SIGKILL during a send: after the lease (4 s here) the message is
    claimed again; the interrupted attempt is recorded as LOST; the text
    went out twice (at-least-once: the gateway had it) but is SENT once."""
    flow = Flow(stack)
    [outbox_id] = flow.insert(1)
    gateway.rule(delay=3, times=1)
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
    a = senders.start(batch_size=7)
    b = senders.start(batch_size=7)
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
