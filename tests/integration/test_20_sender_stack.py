"""The whole path on a stack of its own, as an operator runs it:
`tools/stack up` with STEPUP_SMS_GATEWAY_URL starts stepup-sender with the
http provider; a challenge issued over HTTP on a non-sandbox programme
reaches the (fake) gateway as {"to", "text", "messageId"}, and the code in
the text verifies the challenge (204).  `status` shows the sender, `down`
stops it.

This stack is separate from the session's (whose sender is off, see
conftest.py): a second PostgreSQL cluster and lighttpd on free ports, state
in $STEPUP_BUILD_DIR/tests-var-sender."""

import os
import shutil
import subprocess

from conftest import (BUILD, GB_MOBILE, PG_OPTIONS, STACK, Stack, _run_stack, _scan_for_tool_errors,
                      free_ports, read_env_file)
from sender_fixtures import code_in, gateway, wait_until  # noqa: F401 (fixtures)


def test_stack_up_starts_a_sender_that_reaches_the_gateway(gateway):
    state_dir = BUILD / "tests-var-sender"
    env = dict(os.environ)
    env.update(STEPUP_BUILD_DIR=str(BUILD), STEPUP_STATE_DIR=str(state_dir), STEPUP_DEMO="0",
               STEPUP_PG_OPTIONS=PG_OPTIONS, STEPUP_SMS_GATEWAY_URL=gateway.url)
    if state_dir.exists():
        _run_stack("down", env)
        shutil.rmtree(state_dir)
    pid = None
    pg_port, http_port, authorizer_port = free_ports(3)
    env.update(STEPUP_PG_PORT=str(pg_port), STEPUP_HTTP_PORT=str(http_port),
               STEPUP_AUTHORIZER_PORT=str(authorizer_port))
    try:
        up = _run_stack("up", env)
        assert up.returncode == 0, up.stderr
        assert "starting stepup-sender (http provider" in up.stderr
        conf = (state_dir / "stepup-sender.conf")
        assert oct(conf.stat().st_mode & 0o777) == "0o600"
        s = Stack(state_dir, read_env_file(state_dir / "stack.env"))
        assert f"outbox_key = {s.outbox_key.hex()}" in conf.read_text()

        st = subprocess.run([str(STACK), "status"], env=env, capture_output=True, text=True)
        assert st.returncode == 0, st.stdout + st.stderr
        line = [l for l in st.stdout.splitlines() if l.startswith("stepup-sender")]
        assert line and " up " in line[0] and "provider http" in line[0], st.stdout
        pid = int(line[0].split("pid")[1].split()[0])

        p = s.make_programme(sandbox=False)
        u = s.make_user(p, mobile=GB_MOBILE)
        token = s.session(u)
        assert s.issue(p.api_key, token).status == 204
        [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, timeout=15, to=GB_MOBILE)
        [[outbox_id]] = s.psql("SELECT id FROM stepup.sms_outbox WHERE programme_id = :'p'", p=p.id)
        assert set(req) >= {"to", "text", "messageId"}
        assert req["messageId"] == outbox_id
        code = code_in(req["text"])
        r = s.verify(p.api_key, token, code)
        assert r.status == 204, r
        wait_until(lambda: s.psql("SELECT status, body_template IS NULL AND code_sealed IS NULL"
                                  " FROM stepup.sms_outbox WHERE id = :'o'", o=outbox_id)
                   == [["SENT", "t"]], what="SENT and scrubbed")

        # `up` again: the running sender is kept (and reloaded), not doubled
        up = _run_stack("up", env)
        assert up.returncode == 0 and "stepup-sender already running" in up.stderr, up.stderr
        log_path = state_dir / "log" / "stepup-sender.log"
        wait_until(lambda: "configuration reloaded" in log_path.read_text(), what="reload")
        assert code not in log_path.read_text()
        st = subprocess.run([str(STACK), "status"], env=env, capture_output=True, text=True)
        assert f"stepup-sender up    pid {pid} " in st.stdout, st.stdout
    finally:
        down = _run_stack("down", env)
    assert down.returncode == 0, down.stderr
    assert "stopping stepup-sender" in down.stderr
    assert not (state_dir / "run" / "sender" / "stepup-sender.pid").exists()
    if pid is not None:
        assert not os.path.exists(f"/proc/{pid}"), "the sender outlived tools/stack down"
    problems = _scan_for_tool_errors(state_dir)  # under tools/test --sanitize / --valgrind
    assert not problems, "\n\n".join(problems)
