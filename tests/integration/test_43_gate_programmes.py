"""A gate that trusts only its programmes (issue 8): the stack's /legacy/
gate is named legacy; a session passes only when its programme lists
that gate, a sandbox session only where gate_allow_sandbox is 1 (as in
the development stack), and never a session of a deactivated user."""

import subprocess

import pytest

from conftest import BUILD, SANDBOX_CODE
from test_15_gate import INDEX, assert_page, assert_refused


def stepped_up(stack, p, user=None):
    u = user or stack.make_user(p)
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    code = SANDBOX_CODE
    rows = stack.outbox(p)
    if rows:
        code = rows[-1]["code"]
    assert stack.verify(p.api_key, token, code).status == 204
    return u, token


def test_a_programme_that_does_not_list_the_gate_is_refused(stack):
    p = stack.make_programme(gates="")
    u, token = stepped_up(stack, p)
    assert_refused(stack.page(INDEX, token), 403, "FORBIDDEN")
    stack.ctl("programme", "set", p.id, "--gates", "admin,legacy")
    assert stack.ctl("programme", "show", p.id)["gates"] == ["admin", "legacy"]
    assert_page(stack.page(INDEX, token))
    stack.ctl("programme", "set", p.id, "--gates", "admin")
    assert_refused(stack.page(INDEX, token), 403, "FORBIDDEN")
    stack.ctl("programme", "set", p.id, "--gates", "")
    assert stack.ctl("programme", "show", p.id)["gates"] == []
    assert_refused(stack.page(INDEX, token), 403, "FORBIDDEN")


def test_a_new_programme_lists_no_gate(stack):
    [[pid]] = stack.psql("SELECT stepup.ctl_programme_create('no gates', '{}')")
    assert stack.ctl("programme", "show", pid)["gates"] == []
    for bad in ("Legacy", "a b", "-x", "x" * 64):
        r = stack.ctl_run("programme", "set", pid, "--gates", bad)
        assert r.returncode == 1 and "gates: names of 1 to 63 characters" in r.stderr, r.stderr
    for bad in ('["a,b"]', '[""]', '["legacy,"]'):  # what no option can spell
        with pytest.raises(AssertionError, match="gates: names of 1 to 63"):
            stack.psql(f"""SELECT stepup.ctl_programme_set('{pid}', '{{"gates": {bad}}}')""")
    assert stack.ctl("programme", "show", pid)["gates"] == []


@pytest.fixture
def strict_gate(stack):
    """stepup-fcgi with gate_allow_sandbox = 0 for the test; restored after."""
    def allow(value):
        subprocess.run([str(BUILD / "src" / "fcgi" / "stepup-fcgi"), "--update-config",
                        str(stack.conf_path), "--set", f"gate_allow_sandbox={value}"],
                       check=True, capture_output=True, timeout=30)
        stack.restart_fcgi()

    allow(0)
    yield
    allow(1)


def test_a_sandbox_session_needs_a_gate_that_allows_sandbox(stack, strict_gate):
    sandbox = stack.make_programme()
    _, token = stepped_up(stack, sandbox)
    assert_refused(stack.page(INDEX, token), 403, "FORBIDDEN")
    live = stack.make_programme(sandbox=False)
    _, live_token = stepped_up(stack, live)
    assert_page(stack.page(INDEX, live_token))


@pytest.mark.parametrize("how", ["sql", "stepupctl"])
def test_a_deactivated_users_stepped_up_session_is_refused(stack, how):
    p = stack.make_programme()
    u, token = stepped_up(stack, p)
    assert_page(stack.page(INDEX, token))
    if how == "sql":
        stack.psql("UPDATE stepup.users SET active = false WHERE id = :'u'", u=u.id)
    else:
        stack.ctl("user", "deactivate", u.id)
    assert_refused(stack.page(INDEX, token), 401)
    assert stack.factors(p.api_key, token).status == 401
