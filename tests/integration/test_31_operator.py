"""stepup_operator (issue 7): every stepupctl command but migrate works as
this role, which may execute the ctl_* functions and read what the
commands show, and nothing more.  (The whole suite runs stepupctl as
stepup_operator too: conftest takes PGUSER from the stack's stack.env.)"""

import json
import subprocess

from conftest import GB_MOBILE, MT_MOBILE, PG_BIN, SANDBOX_CODE


def as_operator(stack, *args):
    """stepupctl with PGUSER=stepup_operator, said explicitly: the JSON lines it printed."""
    p = subprocess.run([stack.ctl_path] + [str(a) for a in args], capture_output=True, text=True,
                       env=stack.subprocess_env(PGUSER="stepup_operator", STEPUP_SCRYPT_LOG2N="10"),
                       timeout=60)
    assert p.returncode == 0, (args, p.stderr)
    docs = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    for d in docs:
        if isinstance(d, dict):
            stack.remember(d.get("apiKey"), d.get("token"))
    return docs


def psql_as_operator(stack, sql):
    return subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], capture_output=True, text=True,
                          env=stack.subprocess_env(PGUSER="stepup_operator"), timeout=30)


def test_every_command_but_migrate_works_as_the_operator(stack):
    [prog] = as_operator(stack, "programme", "create", "--name", "operated", "--sandbox",
                         "--retry-seconds", "0")
    [doc] = as_operator(stack, "programme", "set", prog["id"], "--issue-limit", "5",
                        "--countries", "GB,MT", "--sms-provider", "log")
    assert doc == {"id": prog["id"]}
    [shown] = as_operator(stack, "programme", "show", prog["id"])
    assert shown["issue_limit"] == 5 and shown["countries"] == ["GB", "MT"]
    assert shown["sms_provider"] == "log" and shown["sandbox"] is True
    [key] = as_operator(stack, "apikey", "create", "--programme", prog["id"])
    password = "operator-pw-1"
    stack.remember(password)
    [user] = as_operator(stack, "user", "create", "--programme", prog["id"], "--email",
                         "op@example.com", "--password", password, "--mobile", GB_MOBILE)
    [second] = as_operator(stack, "user", "create", "--programme", prog["id"], "--email",
                           "op2@example.com", "--password", password, "--identity",
                           user["identityId"])
    assert second["identityId"] == user["identityId"]
    [enrolled] = as_operator(stack, "user", "enrol", "--user", user["userId"])
    assert enrolled["status"] == "ACTIVE"

    token = stack.login(key["apiKey"], "op@example.com", password)
    assert stack.issue(key["apiKey"], token).status == 204
    assert stack.verify(key["apiKey"], token, SANDBOX_CODE).status == 204
    [challenge] = as_operator(stack, "challenges", "--user", user["userId"])
    assert challenge["status"] == "VERIFIED"
    [imp] = as_operator(stack, "token", "impersonate", "--user", user["userId"])
    assert stack.factors(key["apiKey"], imp["token"]).status == 200
    [mobile] = as_operator(stack, "user", "set-mobile", user["userId"], MT_MOBILE)
    assert mobile["factorStatus"] == "INACTIVE"
    [off] = as_operator(stack, "user", "deactivate", user["userId"])
    assert off["sessionsEnded"] == 2
    [on] = as_operator(stack, "user", "activate", user["userId"])
    assert on == {"userId": user["userId"], "active": True}
    assert as_operator(stack, "outbox", "list", "--programme", prog["id"]) == []
    [purged] = as_operator(stack, "outbox", "purge", "--older-than", "3650d")
    assert purged["olderThanSeconds"] == 3650 * 86400
    # the table of settings needs no database at all
    table = subprocess.run([stack.ctl_path, "--dsn", "host=/nonexistent", "programme", "settings"],
                           capture_output=True, text=True, timeout=30)
    assert table.returncode == 0 and "| `--retry-seconds N` | `15` |" in table.stdout, table


def test_outbox_show_and_retry_as_the_operator(stack):
    prog = stack.make_programme(sandbox=False)
    u = stack.make_user(prog, mobile=GB_MOBILE)
    token = stack.session(u)
    assert stack.issue(prog.api_key, token).status == 204
    [row] = stack.outbox(prog)
    [listed] = as_operator(stack, "outbox", "list", "--programme", prog.id, "--status", "pending")
    assert listed["id"] == row["id"]
    [shown] = as_operator(stack, "outbox", "show", row["id"])
    assert shown["codeSealed"] is True and shown["attemptLog"] == []
    assert row["sealed"] not in json.dumps(shown)
    [retried] = as_operator(stack, "outbox", "retry", row["id"])
    assert retried == {"id": row["id"], "status": "PENDING", "due": "now"}
    # no sender runs here: end it, so that no later sender test sends it
    stack.psql("UPDATE stepup.challenges SET status = 'SUPERSEDED' WHERE id = :'c'",
               c=row["challenge_id"])


def test_the_operator_reads_what_the_commands_show_and_writes_nothing(stack):
    prog = stack.make_programme()
    # what the commands show
    for sql in ("SELECT count(*) FROM stepup.challenge_history",
                "SELECT count(*) FROM stepup.outbox_messages",
                "SELECT count(*) FROM stepup.sms_attempts",
                "SELECT name FROM stepup.programmes LIMIT 1"):
        p = psql_as_operator(stack, sql)
        assert p.returncode == 0, (sql, p.stderr)
    # no hash, no ciphertext, no write
    for sql in ("SELECT key_hash FROM stepup.api_keys",
                "SELECT token_hash FROM stepup.sessions",
                "SELECT password_hash FROM stepup.users",
                "SELECT code_hash FROM stepup.challenges",
                "SELECT code_sealed FROM stepup.sms_outbox",
                f"UPDATE stepup.programmes SET sandbox = false WHERE id = '{prog.id}'",
                "INSERT INTO stepup.api_keys (programme_id, key_hash)"
                f" VALUES ('{prog.id}', '\\x00')",
                "DELETE FROM stepup.sms_outbox",
                "SELECT stepup.api_logout('\\x00', '\\x00', NULL, NULL, NULL)",
                "SELECT * FROM stepup.sender_next_due()"):
        p = psql_as_operator(stack, sql)
        assert p.returncode != 0 and "permission denied" in p.stderr, (sql, p.stdout, p.stderr)
    assert stack.ctl("programme", "show", prog.id)["sandbox"] is True


def test_what_the_operator_stores_is_checked_by_the_database_too(stack):
    """stepup_operator can call the ctl_* functions without stepupctl in
    front: the numbers and addresses it stores are checked there as well."""
    prog = stack.make_programme()
    u = stack.make_user(prog, mobile=GB_MOBILE)
    for sql, constraint in (
            (f"SELECT * FROM stepup.ctl_user_create('{prog.id}', 'x@example.com', 'h', '07400123456',"
             " 'MOBILE', 'GB', NULL, NULL)", "users_mobile_e164"),
            (f"SELECT * FROM stepup.ctl_user_create('{prog.id}', 'no at sign', 'h', NULL, NULL, NULL,"
             " NULL, NULL)", "users_email_shape"),
            (f"SELECT stepup.ctl_user_set_mobile('{u.id}', '+44 7400 123456', 'MOBILE', 'GB')",
             "users_mobile_e164"),
            (f"SELECT stepup.ctl_programme_set('{prog.id}', '{{\"countries\": []}}')",
             "countries: at least one country")):
        p = psql_as_operator(stack, sql)
        assert p.returncode != 0 and constraint in p.stderr, (sql, p.stderr)
    assert stack.ctl("programme", "show", prog.id)["countries"] is None


def test_app_and_sender_cannot_call_the_operator_functions(stack):
    prog = stack.make_programme()
    for role in ("stepup_app", "stepup_sender", "stepup_auditor"):
        p = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-c",
                            f"SELECT stepup.ctl_programme_set('{prog.id}', '{{\"sandbox\": false}}')"],
                           capture_output=True, text=True,
                           env=stack.subprocess_env(PGUSER=role), timeout=30)
        assert p.returncode != 0, role
        assert "permission denied" in p.stderr or "not permitted to log in" in p.stderr, p.stderr
    assert stack.ctl("programme", "show", prog.id)["sandbox"] is True
