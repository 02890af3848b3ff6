"""tools/flow-demo, the README's walk-through of the whole flow, runs
against the test stack and every step answers as it says (issue 3, "Done
when")."""

import os
import re
import subprocess

from conftest import ROOT

FLOW_DEMO = ROOT / "tools" / "flow-demo"


def run_demo(stack):
    env = dict(os.environ, STEPUP_STATE_DIR=str(stack.state_dir))
    p = subprocess.run([str(FLOW_DEMO)], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    # What it printed holds a password and a token: the secrets scan must
    # not find them in any file or log of the stack.
    for m in re.finditer(r"^(?:PASSWORD|TOKEN)=(\S+)$", p.stdout, re.M):
        stack.remember(m.group(1))
    return p


def test_flow_demo_walks_the_whole_flow(stack):
    p = run_demo(stack)
    assert p.returncode == 0, f"{p.stdout}\n{p.stderr}"
    out = p.stdout
    statuses = re.findall(r"^# (\d+)\. .*: expect (\d{3})\n(curl .*)\n-> (\d{3})", out, re.M)
    assert [(int(n), want, got) for n, want, _cmd, got in statuses] == [
        (1, "200", "200"), (2, "200", "200"), (3, "204", "204"), (4, "204", "204"),
        (5, "200", "200"), (6, "403", "403"), (7, "204", "204"), (8, "204", "204"),
        (9, "200", "200"), (10, "200", "200")], out
    cmds = [cmd for _n, _w, cmd, _g in statuses]
    assert "/login_with_password" in cmds[0]
    assert "/authentication_factors/otp/SMS" in cmds[2]
    assert "/authentication_factors/otp/SMS/verify" in cmds[3] and "123456" in cmds[3]
    assert "/stepup/challenges/otp/SMS" in cmds[6]
    assert "/stepup/challenges/otp/SMS/verify" in cmds[7]
    assert "/legacy/" in cmds[8]
    assert "-> 200 {}" in out
    assert '"status":"ACTIVE"' in out
    assert "STEP_UP_REQUIRED" in out
    assert "Legacy application" in out
    user = re.search(r"^STEPUP_USER_ID=(\S+)$", out, re.M).group(1)
    assert out.rstrip().endswith(f"(user {user})")
    # The user was created without an enrolled factor, by the demo.
    rows = stack.psql("SELECT f.status FROM stepup.factors f WHERE f.user_id = :'u'", u=user)
    assert rows == [["ACTIVE"]]


def test_flow_demo_reuses_its_programme(stack):
    first = run_demo(stack)
    second = run_demo(stack)
    assert first.returncode == 0 and second.returncode == 0, second.stdout + second.stderr
    assert "Using the sandbox programme" in second.stdout
    ids = {m for m in re.findall(r"^STEPUP_PROGRAMME_ID=(\S+)$",
                                 first.stdout + second.stdout, re.M)}
    assert len(ids) == 1, ids
    env = (stack.state_dir / "flow-demo.env").stat()
    assert env.st_mode & 0o077 == 0


def test_flow_demo_fails_on_an_unexpected_answer(stack, tmp_path):
    # A stack.env whose URL points into the legacy application: the stack
    # answers, but the step-up gate refuses the very first call (401).
    (tmp_path / "stack.env").write_text(
        (stack.state_dir / "stack.env").read_text().replace(
            f"STEPUP_URL={stack.url}", f"STEPUP_URL={stack.url}/legacy"))
    env = dict(os.environ, STEPUP_STATE_DIR=str(tmp_path))
    p = subprocess.run([str(FLOW_DEMO)], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "step 1 (Log in with email and password) answered 401, not 200" in p.stderr, \
        p.stderr


def test_flow_demo_without_a_stack_says_so(tmp_path):
    env = dict(os.environ, STEPUP_STATE_DIR=str(tmp_path))
    p = subprocess.run([str(FLOW_DEMO)], env=env, capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=60)
    assert p.returncode == 2
    assert "tools/stack up" in p.stderr


def test_readme_walkthrough_runs(stack):
    # The copy-paste block of README.md's "The whole flow" section, run as
    # it is against the test stack (with an email address of its own, so
    # that it does not collide with a user of an earlier run).
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The whole flow"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    assert block.startswith(". var/stack.env")
    email = f"walk-{os.getpid()}@example.com"
    script = block.replace(". var/stack.env", f". {stack.state_dir}/stack.env", 1) \
                  .replace("walk@example.com", email)
    for m in re.finditer(r"--password (\S+)", block):
        stack.remember(m.group(1))
    p = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    statuses = re.findall(r"^HTTP/1\.1 (\d{3})", out, re.M)
    assert statuses == ["204", "204", "403", "204", "204"], out
    assert '"status":"ACTIVE"' in out, out
    assert "STEP_UP_REQUIRED" in out and "Legacy application" in out
    user = re.search(r"^STEPUP_USER_ID=(\S+)$", out, re.M).group(1)
    assert re.search(r'"userId":"%s"' % re.escape(user), out), out
