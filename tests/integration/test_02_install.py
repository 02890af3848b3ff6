"""`make install DESTDIR=...` (issue 9, items 4 and 5): the tree a Debian
packager expects, checked the way lintian would look at it: daemons in
sbin, the tool in bin, the SQL, man pages that lint clean and name every
option, configuration key, programme setting and command the programs
have, systemd units that systemd accepts, example configurations, modes
0755/0644, no RPATH, no build path in what is installed."""

import re
import shutil
import subprocess

import pytest

from conftest import BUILD

# The prefix and sysconfdir the build was configured with (make distcheck
# configures its own).
_MAKEFILE = (BUILD / "Makefile").read_text()
PREFIX = re.search(r"^prefix = (.*)$", _MAKEFILE, re.M).group(1)
def _dir(name):
    """A directory of the Makefile, relative to the DESTDIR root."""
    value = re.search(rf"^{name} = (.*)$", _MAKEFILE, re.M).group(1)
    return value.replace("${prefix}", PREFIX).replace("$(prefix)", PREFIX).lstrip("/")


SYSCONFDIR = re.search(r"^sysconfdir = (.*)$", _MAKEFILE, re.M).group(1).replace("${prefix}",
                                                                                 PREFIX)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    p = subprocess.run(["make", "-C", str(BUILD), "install", f"DESTDIR={dest}"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return dest


def files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_layout(tree):
    have = set(files(tree))
    units, sysusers = _dir("systemdsystemunitdir"), _dir("sysusersdir")
    p = PREFIX.lstrip("/") + "/"
    for f in [p + f for f in ("sbin/stepup-fcgi", "sbin/stepup-sender", "bin/stepupctl",
              "share/stepup/sql/migrate.sql", "share/stepup/sql/schema/001_schema.sql",
              "share/man/man8/stepup-fcgi.8", "share/man/man8/stepup-sender.8",
              "share/man/man1/stepupctl.1", "share/man/man5/stepup.conf.5",
              "share/man/man5/stepup-sender.conf.5",
              "share/doc/stepup/examples/lighttpd.conf.in",
              "share/doc/stepup/examples/apache-fcgid.conf.in",
              "share/doc/stepup/examples/apache-proxy.conf.in",
              "share/doc/stepup/examples/bearer-user.lua",
              "share/doc/stepup/examples/legacy/index.html",
              "share/doc/stepup/openapi.yaml")] + [
              f"{units}/stepup-fcgi.socket", f"{units}/stepup-fcgi.service",
              f"{units}/stepup-sender.service", f"{sysusers}/stepup.conf"]:
        assert f in have, f"{f} not installed; installed: {sorted(have)}"
    # Nothing outside the prefix, no file holding a key.
    assert not [f for f in have if f.endswith(".conf") and "sysusers.d" not in f]


def test_modes_rpath_and_build_paths(tree):
    for f in files(tree):
        path = tree / f
        mode = path.stat().st_mode & 0o7777
        if f.startswith((PREFIX.lstrip("/") + "/bin/", PREFIX.lstrip("/") + "/sbin/")):
            assert mode == 0o755, (f, oct(mode))
            dyn = subprocess.run(["readelf", "-d", str(path)], capture_output=True,
                                 text=True).stdout
            assert "RPATH" not in dyn and "RUNPATH" not in dyn, (f, dyn)
        else:
            assert mode == 0o644, (f, oct(mode))
            assert str(BUILD) not in path.read_text(errors="replace"), f"{f} names {BUILD}"
        assert not path.is_symlink()


def man(tree, section, name):
    return (tree / PREFIX.lstrip("/") / f"share/man/man{section}/{name}.{section}").read_text()


@pytest.mark.skipif(not shutil.which("mandoc"), reason="mandoc (Debian package) is missing")
def test_man_pages_lint_clean(tree):
    for page in sorted((tree / PREFIX.lstrip("/") / "share/man").rglob("*.[158]")):
        p = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(page)],
                           capture_output=True, text=True)
        assert p.returncode == 0 and p.stdout == "", p.stdout + p.stderr


def described_keys(program):
    out = subprocess.run([str(BUILD / "src" / program.split("-")[1] / program),
                          "--describe-config"], capture_output=True, text=True,
                         check=True).stdout
    return re.findall(r"^\| `([a-z_]+)` \|", out, re.M)


def in_page(page, word):
    return re.search(r"\\fB" + re.escape(word.replace("-", "\\-")) + r"\b", page) is not None


@pytest.mark.parametrize("program,page", [("stepup-fcgi", "stepup.conf"),
                                          ("stepup-sender", "stepup-sender.conf")])
def test_every_configuration_key_is_in_its_man_page(tree, program, page):
    text = man(tree, 5, page)
    keys = described_keys(program)
    assert len(keys) > 5
    missing = [k for k in keys if not in_page(text, k)]
    assert not missing, f"{page}(5) lacks {missing}"


def test_every_programme_setting_and_command_is_in_stepupctl_1(tree):
    text = man(tree, 1, "stepupctl")
    ctl = str(BUILD / "src/ctl/stepupctl")
    table = subprocess.run([ctl, "programme", "settings"], capture_output=True, text=True,
                           check=True).stdout
    options = re.findall(r"^\| `(--[a-z-]+)", table, re.M)
    limits = re.findall(r"^\| `([a-z]+(?:-[a-z]+)+)` \|", table, re.M)
    assert len(options) > 10 and len(limits) >= 7
    missing = [o for o in options + limits if not in_page(text, o)]
    assert not missing, f"stepupctl(1) lacks {missing}"
    usage = subprocess.run([ctl, "--help"], capture_output=True, text=True).stdout
    commands = set(re.findall(r"^  ([a-z]+(?: [a-z-]+)?)(?= |$)", usage, re.M))
    assert {"migrate", "programme create", "audit verify", "outbox purge"} <= commands
    plain = subprocess.run(["man", "-l", "-P", "cat", "-"], input=text, capture_output=True,
                           text=True, env={"MANWIDTH": "200", "PATH": "/usr/bin:/bin"}).stdout
    missing = [c for c in sorted(commands) if c not in plain]
    assert not missing, f"stepupctl(1) lacks the commands {missing}"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_systemd_accepts_the_units(tree):
    unitdir = tree / _dir("systemdsystemunitdir")
    units = sorted(str(p) for p in unitdir.iterdir())
    p = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True)
    # The binaries are not at their installed place on this machine, and the
    # man pages not installed: verify reports that; anything else is a fault
    # of the units themselves.
    problems = [line for line in (p.stdout + p.stderr).splitlines()
                if line and "is not executable" not in line and "man " not in line
                and "sysinit.target" not in line]
    assert not problems, problems
    text = (unitdir / "stepup-fcgi.service").read_text()
    assert f"ExecStart={PREFIX}/sbin/stepup-fcgi -c {SYSCONFDIR}/stepup/stepup.conf" in text
    assert "User=stepup-fcgi" in text and "StandardInput=socket" in text
    assert "User=stepup-sender" in (unitdir / "stepup-sender.service").read_text()
