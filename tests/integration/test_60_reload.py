"""stepup-fcgi reloads its configuration on SIGHUP (issue 9, operations):
a file that parses is swapped in for the next requests without a restart
(the same processes go on serving); one that does not parse is refused and
the old settings stay; keys that shape the process are named as waiting
for a restart.  Behind every web server: the signal goes to the stepup-fcgi
processes themselves (mod_fcgid runs several)."""

import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import BUILD, config_value
from test_15_gate import INDEX, assert_page, assert_refused
from test_43_gate_programmes import stepped_up

FCGI = BUILD / "src" / "fcgi" / "stepup-fcgi"


def update(stack, **values):
    args = [str(FCGI), "--update-config", str(stack.conf_path)]
    for key, value in values.items():
        args += ["--set", f"{key}={value}"]
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def log_size(stack):
    return stack.fcgi_log().stat().st_size


def hup_and_wait(stack, since, needle):
    """SIGHUP every stepup-fcgi process; wait until each logged needle."""
    pids = stack.fcgi_pids()
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 20
    while True:
        with open(stack.fcgi_log(), "rb") as f:
            f.seek(since)
            text = f.read().decode("utf-8", "replace")
        lines = [line for line in text.splitlines() if needle in line]
        if len(lines) >= len(pids):
            return lines
        assert time.monotonic() < deadline, f"{len(lines)} of {len(pids)} logged {needle!r}:\n{text}"
        time.sleep(0.1)


@pytest.fixture
def restore(stack):
    original = stack.conf_path.read_bytes()
    yield
    stack.conf_path.write_bytes(original)
    hup_and_wait(stack, log_size(stack), "SIGHUP: settings reloaded")


def test_sighup_applies_a_changed_setting_without_a_restart(stack, restore):
    sandbox = stack.make_programme()
    _, token = stepped_up(stack, sandbox)
    assert_page(stack.page(INDEX, token))  # the stack allows sandbox sessions
    pids = stack.fcgi_pids()

    update(stack, gate_allow_sandbox=0)
    hup_and_wait(stack, log_size(stack), "SIGHUP: settings reloaded from")
    assert_refused(stack.page(INDEX, token), 403, "FORBIDDEN")
    assert set(pids) <= set(stack.fcgi_pids()), "stepup-fcgi was restarted, not reloaded"
    assert stack.request("GET", "/health").status == 200


def test_sighup_keeps_the_old_settings_when_the_file_is_bad(stack, restore):
    sandbox = stack.make_programme()
    _, token = stepped_up(stack, sandbox)
    update(stack, gate_allow_sandbox=0)  # valid, but in a file that is not
    with open(stack.conf_path, "a") as f:
        f.write("no_such_key = 1\n")
    lines = hup_and_wait(stack, log_size(stack), "the settings stay as they were")
    assert all("no_such_key" in line for line in lines), lines
    assert_page(stack.page(INDEX, token))  # still allowed: nothing of the bad file applied
    assert stack.request("GET", "/health").status == 200


def test_sighup_names_what_waits_for_a_restart(stack, restore):
    running = int(config_value("stepup-fcgi", stack.conf_path, "workers"))
    update(stack, workers=running + 1, db_retry_seconds=7)
    lines = hup_and_wait(stack, log_size(stack), "keep their start-up values until a restart")
    assert all("workers, db_retry_seconds" in line for line in lines), lines
    assert stack.request("GET", "/health").status == 200


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                    reason="needs root for a private /dev/log")
@pytest.mark.parametrize("facility, info_pri", [(None, 30), ("local3", 158)])
def test_log_target_syslog_sends_each_line_to_syslog(stack, tmp_path, facility, info_pri):
    """log_target = syslog: each line goes to syslog(3), under the facility
    of syslog_facility (daemon unless set), at its level's priority: the
    <PRI> is facility * 8 + severity (daemon 3, local3 19; info 6).
    stepup-fcgi runs in a mount namespace of its own whose /dev/log is a
    socket this test reads."""
    conf = tmp_path / "stepup.conf"
    shutil.copy(stack.conf_path, conf)
    os.chmod(conf, 0o600)
    sock_path = tmp_path / "fcgi.sock"
    subprocess.run([str(FCGI), "--update-config", str(conf), "--set", "log_target=syslog",
                    "--set", f"socket={sock_path}", "--set", "workers=1",
                    "--set", "authorizer_socket="]  # the stack's own (apache-proxy) is taken
                   + (["--set", f"syslog_facility={facility}"] if facility else []),
                   check=True, capture_output=True, timeout=30)
    log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    log_path = tmp_path / "log.sock"
    log.bind(str(log_path))
    log.settimeout(20)
    created = not os.path.exists("/dev/log")
    if created:
        open("/dev/log", "w").close()  # a mount point; never a socket anyone listens on
    try:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount --bind "$1" /dev/log && exec "$2" -c "$3"', "sh", str(log_path), str(FCGI),
             str(conf)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            first = log.recv(4096).decode()
        except TimeoutError:
            first = None
        finally:
            proc.terminate()
            out, err = proc.communicate(timeout=30)
        assert first is not None, f"nothing reached syslog: {out!r} {err!r}"
        last = log.recv(4096).decode()
    finally:
        log.close()
        if created:
            os.unlink("/dev/log")
    # <30> is daemon.info, <158> local3.info; the program and pid come
    # from syslog, the line from the level on (no second time stamp).
    assert first.startswith(f"<{info_pri}>") and "stepup-fcgi[" in first, first
    assert " info serving with 1 workers" in first and "Z stepup-fcgi" not in first, first
    assert last.startswith(f"<{info_pri}>") and "SIGTERM: finishing requests" in last, last
    assert err == b"", err  # nothing went to standard error
    assert proc.returncode == 0
