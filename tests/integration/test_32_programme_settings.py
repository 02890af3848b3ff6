"""The per-programme settings (issue 7): one declarative table in stepupctl
(src/ctl/programme_settings.c) gives the options, the usage text and
README's table; the rules are stepup.programmes' constraints and column
defaults.  These tests hold the three together."""

import json
import re
import subprocess

from conftest import BUILD, PG_BIN, ROOT


def settings_table(stack):
    p = subprocess.run([stack.ctl_path, "programme", "settings", "--json"], capture_output=True,
                       text=True, check=True, timeout=30)
    return json.loads(p.stdout)


def option_value(setting, value):
    """The command-line spelling of a value of a setting."""
    if setting["kind"] == "flag":
        return [f"--{setting['option']}" if value else f"--no-{setting['option']}"]
    return [f"--{setting['option']}", str(value)]


def test_readme_shows_the_table_stepupctl_has():
    out = subprocess.run([str(BUILD / "src" / "ctl" / "stepupctl"), "programme", "settings"],
                         capture_output=True, text=True, check=True)
    rows = [line for line in out.stdout.splitlines() if line.startswith("| `")]
    assert len([r for r in rows if r.startswith("| `--")]) >= 10, out.stdout
    assert len([r for r in rows if not r.startswith("| `--")]) == 7, out.stdout  # the limits
    readme = (ROOT / "README.md").read_text()
    for row in rows:
        assert row in readme, f"README.md lacks the row\n{row}"


def test_defaults_are_the_columns_defaults(stack):
    [[pid]] = stack.psql("SELECT stepup.ctl_programme_create('defaults', '{}')")
    shown = stack.ctl("programme", "show", pid)
    for s in settings_table(stack):
        assert "defaultValue" in s, s
        assert shown[s["key"]] == s["defaultValue"], (s, shown[s["key"]])


def test_integer_bounds_are_the_constraints(stack):
    p = stack.make_programme()
    for s in settings_table(stack):
        if s["kind"] not in ("int", "int-or-off"):
            continue
        for value in (s["min"], s["max"]):
            r = stack.ctl_run("programme", "set", p.id, *option_value(s, value))
            assert r.returncode == 0, (s["option"], value, r.stderr)
            assert stack.ctl("programme", "show", p.id)[s["key"]] == value
        for value in (s["min"] - 1, s["max"] + 1):
            r = stack.ctl_run("programme", "set", p.id, *option_value(s, value))
            assert r.returncode == 1, (s["option"], value, r.stdout)
            # the constraint's comment, naming the setting and its bounds
            assert f"{s['key']}: an integer from {s['min']} to {s['max']}" in r.stderr, r.stderr
            assert stack.ctl("programme", "show", p.id)[s["key"]] == s["max"]


def test_text_list_and_choice_rules_are_the_constraints(stack):
    p = stack.make_programme()
    for args, message in ((["--name", "x" * 201], "name: 1 to 200 characters"),
                          (["--name", "a {code} b"], "without control characters or {code}"),
                          (["--name", "tab\there"], "without control characters"),
                          (["--sms-template", "no code here"], "including {code}"),
                          (["--sms-template", "{code}" + "x" * 475], "at most 480 characters"),
                          (["--countries", "gb"], "countries: ISO 3166-1 alpha-2 codes"),
                          (["--countries", "GBR"], "countries: ISO 3166-1 alpha-2 codes"),
                          (["--sms-provider", "carrier-pigeon"], "sms_provider: http, exec or log")):
        r = stack.ctl_run("programme", "set", p.id, *args)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
    for args, key, value in ((["--name", "n" * 200], "name", "n" * 200),
                             (["--sms-template", "{code}" + "x" * 474], "sms_template",
                              "{code}" + "x" * 474),
                             (["--countries", "GB,MT"], "countries", ["GB", "MT"]),
                             (["--countries", "any"], "countries", None),
                             (["--sms-provider", "exec"], "sms_provider", "exec"),
                             (["--sms-provider", "default"], "sms_provider", None),
                             (["--verify-attempts", "off"], "verify_attempts", None)):
        r = stack.ctl_run("programme", "set", p.id, *args)
        assert r.returncode == 0, (args, r.stderr)
        assert stack.ctl("programme", "show", p.id)[key] == value


def test_a_refused_create_leaves_nothing(stack):
    before = stack.psql("SELECT count(*) FROM stepup.programmes")
    r = stack.ctl_run("programme", "create", "--name", "refused", "--retry-seconds", "86401")
    assert r.returncode == 1 and "retry_seconds" in r.stderr
    assert stack.psql("SELECT count(*) FROM stepup.programmes") == before


def test_a_limit_outside_1_to_5_is_kept_with_a_warning(stack):
    p = stack.make_programme()
    r = stack.ctl_run("programme", "set", p.id, "--verify-attempts", "9")
    assert r.returncode == 0
    assert "warning: verify_attempts 9 is outside 1..5 and acts as 5" in r.stderr, r.stderr
    assert stack.ctl("programme", "show", p.id)["verify_attempts"] == 9
    r = stack.ctl_run("programme", "set", p.id, "--verify-attempts", "3")
    assert r.returncode == 0 and "warning" not in r.stderr


def test_the_shape_of_a_value_is_checked_before_the_database(stack):
    for args in (["--retry-seconds", "soon"], ["--countries", "GB,,MT"],
                 ["--issue-limit", "1.5"], ["--verify-attempts", "never"]):
        r = subprocess.run([stack.ctl_path, "--dsn", "host=/nonexistent", "programme", "set",
                            "00000000-0000-4000-8000-000000000000"] + args,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and args[0] in r.stderr and "connect" not in r.stderr, r.stderr


def test_the_sql_refuses_what_is_no_setting(stack):
    p = stack.make_programme()
    for settings, message in (('{"colour": "red"}', 'no programme setting is called "colour"'),
                              ('{"retry_seconds": "15"}', "retry_seconds: expected integer"),
                              ('{"sandbox": 1}', "sandbox: expected boolean"),
                              ('{"countries": ["GB", 7]}', "countries: expected array or null"),
                              ('[]', "must be a JSON object")):
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            "-c", f"SELECT stepup.ctl_programme_set('{p.id}', '{settings}')"],
                           capture_output=True, text=True,
                           env=stack.subprocess_env(PGUSER="stepup_operator"), timeout=30)
        assert r.returncode != 0 and message in r.stderr, (settings, r.stderr)
    r = stack.ctl_run("programme", "set", "00000000-0000-4000-8000-000000000000", "--sandbox")
    assert r.returncode == 1 and re.search(r"no programme with id 0{8}-", r.stderr), r.stderr
