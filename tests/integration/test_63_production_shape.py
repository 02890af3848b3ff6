"""The production shape (issue 9, README "Running in production"), as the
development stack follows it when root brings it up: every server runs as
a system user of its own; the protected application cannot read stepup's
configuration or keys; stepup refuses a key file others may read (see
also test_61_secret_files.py); no role of the database but the cluster's
bootstrap superuser is a superuser.

The application is asked through the real path: a probe CGI program put
into the example application, reached through the step-up gate, reports
which user it runs as and which of stepup's files it can open."""

import os
import pwd
import re

import pytest

from conftest import GB_MOBILE, SANDBOX_CODE, _run_stack, config_value, process_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="run by another user, the stack runs as that one user")

PROBE = """#!/bin/sh
# What the application's user can read of stepup's (test_63).
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'user=%s\\n' "$(id -un)"
for f in "$@" {files}; do
    if cat "$f" >/dev/null 2>&1; then echo "readable $f"; else echo "unreadable $f"; fi
done
"""


def pid_in(path):
    return int(path.read_text().split()[0])


@pytest.fixture
def sender(stack):
    """The stack's stepup-sender, which the suite's stack runs without."""
    env = dict(stack.stack_env, STEPUP_SENDER="1")
    up = _run_stack("up", env, "sender")
    assert up.returncode == 0, up.stderr
    try:
        yield pid_in(stack.state_dir / "run" / "sender" / "stepup-sender.pid")
    finally:
        down = _run_stack("down", env, "sender")
        assert down.returncode == 0, down.stderr


def web_server_pid(stack):
    run = stack.state_dir / "run" / "httpd"
    return pid_in(next(p for p in (run / "lighttpd.pid", run / "apache.pid") if p.exists()))


def test_each_server_runs_as_its_own_user(stack, sender):
    httpd = stack.env["STEPUP_HTTPD"]
    users = {
        "postgres": process_user(pid_in(stack.state_dir / "pg" / "postmaster.pid")),
        "web": process_user(web_server_pid(stack)),
        "sender": process_user(sender),
    }
    fcgi = {process_user(pid) for pid in stack.fcgi_pids()}
    assert len(fcgi) == 1, fcgi
    users["fcgi"] = fcgi.pop()
    assert users["postgres"] == "stepup" and users["sender"] == "stepup-sender", users
    assert users["web"] == "www-data", users
    if httpd == "apache-fcgid":
        # Apache starts stepup-fcgi as its own user: what that mode gives up
        # (README, "Running in production").
        assert users["fcgi"] == "www-data", users
    else:
        assert users["fcgi"] == "stepup-fcgi", users
    assert "root" not in users.values()
    # Each file with a secret belongs to the one user that reads it, mode 0600.
    for name, user in (("stepup.conf", users["fcgi"]), ("stepup-sender.conf", "stepup-sender"),
                       ("audit-key.pem", "stepup-sender")):
        st = (stack.state_dir / name).stat()
        assert (pwd.getpwuid(st.st_uid).pw_name, st.st_mode & 0o777) == (user, 0o600), name


def test_the_protected_application_cannot_read_stepups_secrets(stack, sender):
    secrets = [stack.state_dir / n for n in ("stepup.conf", "stepup-sender.conf", "audit-key.pem")]
    secrets += [stack.state_dir / "pg" / "PG_VERSION"]
    probe = stack.state_dir / "www" / "legacy" / "probe-63.cgi"
    probe.write_text(PROBE.format(files=" ".join(str(f) for f in secrets)))
    os.chmod(probe, 0o700)
    os.chown(probe, pwd.getpwnam("www-data").pw_uid, pwd.getpwnam("www-data").pw_gid)
    try:
        p = stack.make_programme()
        token = stack.session(stack.make_user(p, mobile=GB_MOBILE))
        assert stack.issue(p.api_key, token).status == 204
        assert stack.verify(p.api_key, token, SANDBOX_CODE).status == 204
        status, _, text = stack.page("/legacy/probe-63.cgi", token)
    finally:
        probe.unlink()
    assert status == 200, text
    assert re.search(r"^user=www-data$", text, re.M), text
    seen = dict(reversed(line.split(" ", 1)) for line in text.splitlines()
                if line.startswith(("readable ", "unreadable ")))
    assert set(seen) == {str(f) for f in secrets}, text
    expected = {str(f): "unreadable" for f in secrets}
    if stack.env["STEPUP_HTTPD"] == "apache-fcgid":
        # stepup-fcgi runs as Apache's user there, so its configuration is
        # that user's, and every program Apache runs can read it (README).
        expected[str(secrets[0])] = "readable"
    assert seen == expected, text


def test_no_role_of_stepup_is_a_superuser(stack):
    rows = stack.psql("SELECT rolname, rolsuper FROM pg_roles"
                      " WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname")
    supers = [name for name, su in rows if su == "t"]
    # the bootstrap superuser, which only tools/stack uses (createdb, the owner)
    assert supers == ["postgres"], rows
    names = {name for name, _ in rows}
    assert {"stepup", "stepup_app", "stepup_sender", "stepup_operator",
            "stepup_auditor"} <= names, rows
    # the servers log in as their own roles, not as the owner
    assert "user=stepup_app " in config_value("stepup-fcgi", stack.conf_path, "db_conninfo") + " "
