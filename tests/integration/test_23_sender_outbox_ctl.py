"""stepupctl outbox list | show | retry | purge."""

import json

from sender_fixtures import Flow, gateway, senders, wait_until  # noqa: F401 (fixtures)


def ctl_lines(stack, *args):
    p = stack.ctl_run(*args)
    assert p.returncode == 0, p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_list_and_show(stack, gateway, senders):
    flow = Flow(stack)
    sent = flow.issue()
    dead = flow.issue(new_session=True)
    gateway.rule(status=400, message_id=dead)
    senders.start()
    flow.wait_status(sent, "SENT")
    flow.wait_status(dead, "DEAD")
    waiting = flow.issue(new_session=True)
    flow.wait_status(waiting, "SENT")

    rows = ctl_lines(stack, "outbox", "list", "--programme", flow.programme.id)
    assert [r["id"] for r in rows] == [waiting, dead, sent]  # newest first
    assert set(rows[0]) == {"id", "challengeId", "programmeId", "to", "status", "attempts",
                            "createdAt", "nextAttemptAt", "leaseOwner", "leaseUntil", "sentAt",
                            "endedAt", "provider", "providerMessageId", "lastError"}
    assert [r["id"] for r in ctl_lines(stack, "outbox", "list", "--programme", flow.programme.id,
                                       "--status", "dead")] == [dead]
    assert len(ctl_lines(stack, "outbox", "list", "--programme", flow.programme.id,
                         "--limit", "2")) == 2

    [doc] = ctl_lines(stack, "outbox", "show", dead)
    assert doc["status"] == "DEAD" and doc["codeSealed"] is False and doc["bodyTemplate"] is None
    assert doc["lastError"].startswith("HTTP 400")
    [a] = doc["attemptLog"]
    assert a["status"] == "PERMANENT" and a["httpStatus"] == 400 and a["attempt"] == 1
    [doc] = ctl_lines(stack, "outbox", "show", sent)
    assert doc["providerMessageId"].startswith("gw-") and doc["sentAt"]

    for args, code, msg in ((("outbox", "list", "--status", "LOST"), 1, "--status"),
                            (("outbox", "show", "not-a-uuid"), 1, "not a UUID"),
                            (("outbox", "show", "00000000-0000-4000-8000-000000000000"), 1, "no outbox message"),
                            (("outbox", "show"), 2, "usage"),
                            (("outbox", "frobnicate"), 2, "unknown subcommand"),
                            (("outbox",), 2, "subcommand")):
        p = stack.ctl_run(*args)
        assert p.returncode == code and msg in p.stderr, (args, p.returncode, p.stderr)


def test_show_never_prints_the_sealed_code(stack):
    flow = Flow(stack)
    outbox_id = flow.issue()  # no sender: the row is waiting with its sealed code
    row = flow.row(outbox_id)
    code = flow.code_of(outbox_id)
    p = stack.ctl_run("outbox", "show", outbox_id)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "PENDING" and doc["codeSealed"] is True
    assert "{code}" in doc["bodyTemplate"]
    assert row["sealed"] not in p.stdout and code not in p.stdout
    p = stack.ctl_run("outbox", "list", "--programme", flow.programme.id)
    assert row["sealed"] not in p.stdout and code not in p.stdout
    # ... and end it, so that no later sender test's sender sends it
    stack.psql("UPDATE stepup.challenges SET status = 'SUPERSEDED' WHERE id = :'c'",
               c=row["challenge_id"])


def test_retry_makes_a_waiting_message_due_now(stack, gateway, senders):
    flow = Flow(stack)
    outbox_id = flow.issue()
    gateway.rule(status=500, times=1, message_id=outbox_id)
    # after the failure, the next attempt would be a minute away
    senders.start(backoff_base_ms=60000, backoff_max_ms=60000, poll_interval_ms=60000)
    wait_until(lambda: flow.attempts(outbox_id), what="first attempt")
    row = flow.row(outbox_id)
    assert row["status"] == "PENDING" and row["attempts"] == 1
    [doc] = ctl_lines(stack, "outbox", "list", "--programme", flow.programme.id)
    assert doc["nextAttemptAt"] and doc["lastError"].startswith("HTTP 500")

    [doc] = ctl_lines(stack, "outbox", "retry", outbox_id)
    assert doc == {"id": outbox_id, "status": "PENDING", "due": "now"}
    flow.wait_status(outbox_id, "SENT", timeout=5)  # its NOTIFY woke the sender

    p = stack.ctl_run("outbox", "retry", outbox_id)
    assert p.returncode == 1 and "has ended (SENT)" in p.stderr and "scrubbed" in p.stderr


def test_purge_deletes_ended_messages_older_than(stack, gateway, senders):
    flow = Flow(stack)
    old = flow.issue()
    recent = flow.issue()
    senders.start()
    flow.wait_status(old, "EXPIRED")  # superseded by `recent`
    flow.wait_status(recent, "SENT")
    stack.psql("UPDATE stepup.sms_outbox SET ended_at = now() - interval '3 days' WHERE id = :'o'",
               o=old)
    waiting = Flow(stack)
    pending = waiting.issue()
    stack.psql("UPDATE stepup.sms_outbox SET created_at = now() - interval '9 days',"
               " next_attempt_at = now() + interval '1 day' WHERE id = :'o'", o=pending)

    [doc] = ctl_lines(stack, "outbox", "purge", "--older-than", "2d")
    assert doc["purged"] >= 1 and doc["olderThanSeconds"] == 2 * 86400
    assert [r["id"] for r in flow.rows()] == [recent]
    assert [r["id"] for r in waiting.rows()] == [pending], "a waiting message was purged"
    assert stack.psql("SELECT count(*) FROM stepup.sms_attempts WHERE outbox_id = :'o'",
                      o=old) == [["0"]]
    for bad in ("2", "2w", "-1d", "d", "1.5h"):
        p = stack.ctl_run("outbox", "purge", "--older-than", bad)
        assert p.returncode == 1 and "--older-than" in p.stderr, (bad, p.stderr)
    p = stack.ctl_run("outbox", "purge")
    assert p.returncode == 2
    stack.psql("UPDATE stepup.challenges SET status = 'SUPERSEDED' WHERE id ="
               " (SELECT challenge_id FROM stepup.sms_outbox WHERE id = :'o')", o=pending)
