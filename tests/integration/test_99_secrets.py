"""After the run: no plaintext password, API key, session token or OTP code
in any table (pg_dump), in any file of the cluster (data files, WAL) or in
any log of the state directory.  Runs last."""

import os
import re
import subprocess
from pathlib import Path

from conftest import GB_MOBILE, PG_BIN


# Every secret of the run is a word of these characters (base64url tokens and
# keys, "pw-<hex>" passwords, 6-digit codes), so each occurrence lies inside
# one maximal run of them: the scan looks at the distinct runs of a file
# instead of at every byte for every secret.  A code counts only when it is
# a whole run (not a piece of a longer number, hex string, fraction or
# "[pid]").
RUN = re.compile(rb"[0-9A-Za-z+/._\[\]-]{6,}")
SECRET_CHARS = re.compile(r"^[0-9A-Za-z_-]+$")


def files_under(root):
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def test_no_plaintext_secrets_anywhere(stack):
    # Some traffic of this test's own, so that it means something alone too.
    p = stack.make_programme(sandbox=False)
    u = stack.make_user(p, mobile=GB_MOBILE)
    token = stack.session(u)
    assert stack.issue(p.api_key, token).status == 204
    stack.outbox(p)  # learns the code
    stack.impersonate(u)
    assert stack.request("POST", "/logout", api_key=p.api_key, token=token).status == 204
    # Make sure what the server wrote has reached the files.
    stack.psql("CHECKPOINT", superuser=True)

    secrets = sorted(stack.secrets)
    codes = sorted(stack.codes)
    assert len(secrets) >= 4 and codes, (len(secrets), codes)
    assert all(SECRET_CHARS.match(x) for x in secrets + codes), "a secret the scan cannot see"

    dump = subprocess.run([str(PG_BIN / "pg_dump"), "--data-only", "--no-owner"],
                          capture_output=True, env=stack.subprocess_env(PGUSER=stack.pg_owner), timeout=120)
    assert dump.returncode == 0, dump.stderr
    haystacks = [("pg_dump of the database", dump.stdout)]
    skip = {stack.state_dir / "stepup.conf"}  # holds the server's keys, none of the above
    for path in files_under(stack.state_dir):
        if path not in skip:
            haystacks.append((str(path), path.read_bytes()))
    assert any("log" in name for name, _ in haystacks)

    found = []
    for name, data in haystacks:
        runs = set(RUN.findall(data))
        blob = b"\n".join(runs)
        for secret in secrets:
            if secret.encode() in blob:
                i = data.find(secret.encode())
                found.append(f"{name}: secret {secret[:6]}... at {i}: "
                             f"{data[max(0, i - 80):i + 80]!r}")
        for code in codes:
            if code.encode() in runs:
                i = data.find(code.encode())
                found.append(f"{name}: OTP code at {i}: {data[max(0, i - 80):i + 80]!r}")
    assert not found, "plaintext secrets found:\n" + "\n".join(found)
