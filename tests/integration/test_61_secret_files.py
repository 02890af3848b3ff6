"""Files that hold secrets are their owner's alone (issue 9, item 3):
stepup-fcgi and stepup-sender refuse a configuration file with keys, and
the sender an audit signing key, that the group or others may read, at
start-up and on SIGHUP, naming the file, its mode and the fix."""

import os
import shutil
import subprocess

import pytest

from conftest import BUILD
from sender_fixtures import SENDER_BIN, SenderProcess

FCGI = BUILD / "src" / "fcgi" / "stepup-fcgi"
MODES = (0o644, 0o640, 0o604, 0o660)


def refused(p, path, mode):
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert f"{path} has mode {mode:04o}: group or others may read its secrets; chmod 600 {path}" \
        in p.stderr, p.stderr


@pytest.mark.parametrize("mode", MODES)
def test_stepup_fcgi_refuses_a_configuration_others_may_read(stack, tmp_path, mode):
    conf = tmp_path / "stepup.conf"
    shutil.copy(stack.conf_path, conf)
    os.chmod(conf, mode)
    for args in (["--check-config"], []):  # loading it, and starting with it
        p = subprocess.run([str(FCGI), "-c", str(conf)] + args, capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        refused(p, conf, mode)
    os.chmod(conf, 0o600)
    p = subprocess.run([str(FCGI), "-c", str(conf), "--check-config"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr


def test_stepup_sender_refuses_a_configuration_others_may_read(stack):
    s = SenderProcess(stack, "secret-conf", {"provider": "log"})
    os.chmod(s.conf_path, 0o644)
    p = subprocess.run([str(SENDER_BIN), "-c", str(s.conf_path)], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    refused(p, s.conf_path, 0o644)


def test_stepup_sender_refuses_an_audit_key_others_may_read(stack, tmp_path):
    key = tmp_path / "audit-key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True,
                   capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    s = SenderProcess(stack, "secret-key", {"provider": "log", "audit_key_file": str(key)})
    os.chmod(key, 0o644)
    for args in ([], ["--check-config"]):  # starting, and checking before a reload
        p = subprocess.run([str(SENDER_BIN), "-c", str(s.conf_path)] + args, capture_output=True,
                           text=True, timeout=30, stdin=subprocess.DEVNULL)
        refused(p, key, 0o644)
    # A public key (what stepupctl audit verify reads) may be read by anyone.
    pub = tmp_path / "audit-key.pub.pem"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                   capture_output=True, timeout=30)
    os.chmod(pub, 0o644)
    p = stack.ctl_run("audit", "verify", "--public-key", str(pub))
    assert "group or others may read" not in p.stderr, p.stderr
