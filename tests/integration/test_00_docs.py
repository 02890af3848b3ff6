"""The documentation keeps up with the code: every setting stepup-fcgi
knows (its own --describe-config table) has a row in README.md's
configuration reference, with the same default."""

import re
import subprocess

from conftest import BUILD, ROOT


def described_settings():
    out = subprocess.run([str(BUILD / "src/fcgi/stepup-fcgi"), "--describe-config"],
                         check=True, capture_output=True, text=True).stdout
    rows = re.findall(r"^\| `([a-z_]+)` \| ([^|]+) \|", out, re.M)
    assert len(rows) >= 9, out
    return rows


def test_every_setting_is_in_the_readme_with_its_default():
    readme = (ROOT / "README.md").read_text()
    for key, default in described_settings():
        row = re.search(r"^\| `%s` \| ([^|]+) \|" % re.escape(key), readme, re.M)
        assert row, f"setting {key} is not documented in README.md"
        assert row.group(1).strip() == default.strip(), \
            f"README.md gives {key} the default {row.group(1).strip()}, the code {default.strip()}"
