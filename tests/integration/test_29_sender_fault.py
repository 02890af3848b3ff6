"""The fault test: two senders drain 10,000 messages while one of them is
killed with SIGKILL and restarted several times.

Every message must be delivered and end SENT.  A message may reach the
gateway twice only where a kill landed during its send: a sender holds at
most sends_in_flight messages (claimed, and not yet recorded), so a kill
interrupts at most that many sends.  Each victim is frozen (SIGSTOP) just
before its SIGKILL, and the messages the database shows it holding then
must number at most sends_in_flight, and include every message sent
twice.  Each duplicate must be explained by
the database: its interrupted attempt is recorded as LOST, made by one of
the killed processes, and no killed process has more LOST attempts than
sends_in_flight; so the duplicates number at most sends_in_flight per
kill.

The messages are inserted with SQL (sealed in Python with the outbox key,
as stepup-fcgi seals them) rather than issued over HTTP, to keep the test
well under two minutes on two cores."""

import random
import signal
import time
from collections import Counter

from sender_fixtures import Flow, gateway, senders, wait_until  # noqa: F401 (fixtures)

MESSAGES = 10000
KILLS = 6
IN_FLIGHT = 8
SETTINGS = dict(sends_in_flight=IN_FLIGHT, batch_size=IN_FLIGHT // 2, lease_seconds=4,
                http_timeout_ms=1000, exec_timeout_ms=1000, max_attempts=20,
                poll_interval_ms=100, log_level="warn")


def test_two_senders_10000_messages_one_killed_repeatedly(stack, gateway, senders):
    started = time.monotonic()
    flow = Flow(stack)
    ids = flow.insert(MESSAGES)
    inserted = time.monotonic()

    def unsent():
        [[n]] = stack.psql("SELECT count(*) FROM stepup.sms_outbox"
                           " WHERE programme_id = :'p' AND status <> 'SENT'", p=flow.programme.id)
        return int(n)

    # 5 to 35 ms per request at the gateway, 8 in flight: a kill nearly
    # always lands during sends (the case that may double messages), the
    # sends end one by one rather than in waves (so a sender that claimed
    # before recording would be caught holding more than 8), and the run
    # lasts long enough for every kill.
    gateway.rule(delay=0.005, jitter=0.03)
    rng = random.Random()
    steady = senders.start(name="fault-steady", **SETTINGS)
    victim = senders.start(name="fault-victim-0", **SETTINGS)
    killed = []  # owner markers (":pid:") of the killed processes
    held_at_kills = set()  # the messages each victim held (claimed, unrecorded) when killed
    held_counts = []
    while len(killed) < KILLS and unsent() > 0:
        time.sleep(rng.uniform(0.3, 0.8))
        # Frozen, the victim's claims are what the database shows: at most
        # sends_in_flight, and the only messages the kill may double.
        victim.signal(signal.SIGSTOP)
        try:
            held = {row[0] for row in stack.psql(
                "SELECT id FROM stepup.sms_outbox WHERE status = 'SENDING'"
                "   AND lease_owner LIKE :'m'", m=f"%{victim.owner_marker}%")}
        finally:
            victim.kill()
        killed.append(victim.owner_marker)
        assert len(held) <= IN_FLIGHT, f"a sender held {len(held)} claims, {IN_FLIGHT} in flight"
        held_at_kills |= held
        held_counts.append(len(held))
        victim = senders.start(name=f"fault-victim-{len(killed)}", **SETTINGS)
    kills_done = time.monotonic()

    wait_until(lambda: unsent() == 0, timeout=100, interval=0.25, what="every message SENT")
    drained = time.monotonic()
    assert steady.terminate() == 0 and victim.terminate() == 0

    # At the gateway: every message, and duplicates only for kills.
    reqs = gateway.requests(message_ids=ids)
    per_id = Counter(r["messageId"] for r in reqs)
    assert set(per_id) == set(ids), f"{len(set(ids) - set(per_id))} messages never reached the gateway"
    doubled = {mid: n for mid, n in per_id.items() if n > 1}
    extra = sum(n - 1 for n in doubled.values())
    assert len(killed) >= 3, f"only {len(killed)} kills landed before the outbox was empty"
    assert extra <= IN_FLIGHT * len(killed), \
        f"{extra} duplicate sends for {len(killed)} kills of {IN_FLIGHT} in flight: {doubled}"
    assert set(doubled) <= held_at_kills, \
        f"sent twice though no killed sender held them: {set(doubled) - held_at_kills}"
    assert gateway.max_concurrent(ids) <= 2 * IN_FLIGHT, gateway.max_concurrent(ids)

    # In the database: all SENT and scrubbed; LOST attempts only by killed
    # processes, and one behind every duplicate.
    rows = stack.psql("SELECT status, count(*), bool_and(body_template IS NULL AND code_sealed IS NULL)"
                      "  FROM stepup.sms_outbox WHERE programme_id = :'p' GROUP BY status",
                      p=flow.programme.id)
    assert rows == [["SENT", str(MESSAGES), "t"]], rows
    attempts = stack.psql("SELECT a.outbox_id, a.status, a.sender FROM stepup.sms_attempts a"
                          "  JOIN stepup.sms_outbox o ON o.id = a.outbox_id"
                          " WHERE o.programme_id = :'p' AND a.status <> 'SENT'",
                          p=flow.programme.id)
    assert {status for _, status, _ in attempts} <= {"LOST"}, attempts[:10]
    lost = {}
    lost_by = Counter()
    for outbox_id, _, sender in attempts:
        marker = [m for m in killed if m in sender]
        assert marker, f"LOST attempt by a process never killed: {sender}"
        lost[outbox_id] = sender
        lost_by[marker[0]] += 1
    # a kill interrupts at most the sends in flight: never more claims held than that
    assert max(lost_by.values(), default=0) <= IN_FLIGHT, lost_by
    for mid in doubled:
        assert mid in lost, f"message {mid} was sent twice without a LOST attempt"
    sent_counts = stack.psql("SELECT count(*) FROM stepup.sms_attempts a"
                             "  JOIN stepup.sms_outbox o ON o.id = a.outbox_id"
                             " WHERE o.programme_id = :'p' AND a.status = 'SENT'",
                             p=flow.programme.id)
    assert sent_counts == [[str(MESSAGES)]], sent_counts

    total = time.monotonic() - started
    print(f"fault test: insert {inserted - started:.1f} s, {len(killed)} kills in "
          f"{kills_done - inserted:.1f} s, drained after {drained - inserted:.1f} s; "
          f"held at the kills {held_counts}, {len(lost)} LOST attempts ({dict(lost_by)}), "
          f"{extra} duplicate sends; "
          f"total {total:.1f} s")
    assert total < 120, f"the fault test took {total:.0f} s"
