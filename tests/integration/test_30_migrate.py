"""stepupctl migrate and the layout of sql/ (issue 7): schema steps applied
once and never edited, every function re-applied from its one file.

- A database built by the schema files as they landed before the layout
  changed (tests/integration/data/landed-schema, applied the way the
  stepupctl of then applied them) migrates cleanly, ends up with exactly the
  schema of a fresh database, and then serves the whole flow on a stack of
  its own: enrolment, step-up, the gate, a text delivered by the sender.
- migrate refuses a schema step whose file was edited after it was applied
  (with a stepupctl built from an edited copy of sql/), code in the database
  that no file defines, and a database of a newer stepupctl; each time
  nothing changes.
- Every function's current definition is in exactly one file, and no schema
  step defines one.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
import time
from pathlib import Path

from conftest import (BUILD, GB_MOBILE, PG_BIN, PG_OPTIONS, ROOT, Stack, _run_stack,
                      _scan_for_tool_errors, free_ports, read_env_file)
from sender_fixtures import code_in, gateway, wait_until  # noqa: F401 (fixture)

LANDED = Path(__file__).resolve().parent / "data" / "landed-schema"
SQL = ROOT / "sql"


def migrate(stack, ctl=None, user=None):
    """stepupctl migrate on the stack's database as the owner: CompletedProcess."""
    env = stack.subprocess_env(PGUSER=user or stack.pg_owner)
    return subprocess.run([str(ctl or stack.ctl_path), "migrate"], capture_output=True, text=True,
                          env=env, timeout=120)


def schema_dump(stack, dbname="stepup"):
    """pg_dump -s of a database, without the lines that differ on every run."""
    p = subprocess.run([str(PG_BIN / "pg_dump"), "-s", "-d", dbname], capture_output=True,
                       text=True, env=stack.subprocess_env(PGUSER=stack.pg_owner), timeout=120)
    assert p.returncode == 0, p.stderr
    return [line for line in p.stdout.splitlines() if not line.startswith(("\\restrict",
                                                                            "\\unrestrict"))]


def code_fingerprint(stack):
    """Every function of schema stepup with its definition and privileges."""
    return stack.psql("SELECT p.oid::regprocedure, md5(pg_get_functiondef(p.oid)),"
                      "       coalesce(p.proacl::text, '')"
                      "  FROM pg_proc p WHERE p.pronamespace = 'stepup'::regnamespace"
                      " ORDER BY 1")


def build_legacy_database(state_dir, env):
    """The database `stepup` as the stepupctl before the layout change made it:
    each landed file in its own transaction with its record, no checksums;
    its owner `stepup` made as tools/stack makes it (not a superuser)."""
    psql = [str(PG_BIN / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "stepup"]
    superuser = dict(env, PGUSER="postgres", PGDATABASE="postgres")
    subprocess.run(psql[:-2] + ["-c", "CREATE ROLE stepup LOGIN CREATEROLE NOSUPERUSER"],
                   env=superuser, check=True, timeout=60)
    subprocess.run([str(PG_BIN / "createdb"), "-O", "stepup", "stepup"], env=superuser, check=True,
                   timeout=60)
    script = ["CREATE TABLE IF NOT EXISTS public.stepup_migrations (version integer PRIMARY KEY,"
              " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());"]
    for f in sorted(LANDED.glob("*.sql")):
        script += ["BEGIN;", f.read_text(),
                   f"INSERT INTO public.stepup_migrations (version, name) VALUES "
                   f"({int(f.name[:3])}, '{f.stem}');", "COMMIT;"]
    # A programme in use: a session opened 13 hours ago, and a fresh one.
    script += ["""
        INSERT INTO stepup.programmes (id, name) VALUES ('6d9c0e1a-0000-4000-8000-000000000001', 'old');
        INSERT INTO stepup.identities (id, programme_id)
        VALUES ('6d9c0e1a-0000-4000-8000-000000000002', '6d9c0e1a-0000-4000-8000-000000000001');
        INSERT INTO stepup.users (id, identity_id, programme_id, role, email, password_hash)
        VALUES ('6d9c0e1a-0000-4000-8000-000000000003', '6d9c0e1a-0000-4000-8000-000000000002',
                '6d9c0e1a-0000-4000-8000-000000000001', 'ROOT', 'old@example.com', 'x');
        INSERT INTO stepup.sessions (programme_id, user_id, token_hash, created_at, last_seen_at)
        VALUES ('6d9c0e1a-0000-4000-8000-000000000001', '6d9c0e1a-0000-4000-8000-000000000003',
                sha256('long ago'), now() - interval '13 hours', now()),
               ('6d9c0e1a-0000-4000-8000-000000000001', '6d9c0e1a-0000-4000-8000-000000000003',
                sha256('just now'), now() - interval '1 minute', now());
    """]
    p = subprocess.run(psql + ["-f", "-"], input="\n".join(script), text=True,
                       capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr


def test_a_database_of_the_landed_files_migrates_and_serves_the_whole_flow(stack, gateway):
    state_dir = BUILD / "tests-var-legacy"
    env = dict(os.environ, STEPUP_BUILD_DIR=str(BUILD), STEPUP_STATE_DIR=str(state_dir),
               STEPUP_DEMO="0", STEPUP_PG_OPTIONS=PG_OPTIONS, STEPUP_SMS_GATEWAY_URL=gateway.url)
    if state_dir.exists():
        _run_stack("down", env)
        shutil.rmtree(state_dir)
    pg_port, http_port, authorizer_port = free_ports(3)
    env.update(STEPUP_PG_PORT=str(pg_port), STEPUP_HTTP_PORT=str(http_port),
               STEPUP_AUTHORIZER_PORT=str(authorizer_port))
    owner_env = dict(os.environ, PGHOST="127.0.0.1", PGPORT=str(pg_port), PGUSER="stepup",
                     PGDATABASE="stepup")
    try:
        # The cluster alone, then the old database, then everything else.
        up = _run_stack("up", env, "postgres")
        assert up.returncode == 0, up.stderr
        build_legacy_database(state_dir, owner_env)
        before = subprocess.run([str(PG_BIN / "psql"), "-X", "-At", "-c",
                                 "SELECT count(*) FROM pg_proc WHERE proname = 'authenticate'"
                                 " AND pronargs = 4"], capture_output=True, text=True,
                                env=owner_env, check=True).stdout.strip()
        assert before == "1"  # the landed signature, which the new layout replaced

        up = _run_stack("up", env)
        assert up.returncode == 0, up.stdout + up.stderr
        s = Stack(state_dir, read_env_file(state_dir / "stack.env"))
        s.stack_env = env
        # The upgrade says what it changes (issue 8): no gate trusts the old
        # programme yet, and the 13-hour-old session has ended.
        assert "1 programme(s) list no step-up gate" in up.stderr, up.stderr
        ends = s.psql("SELECT encode(token_hash, 'hex'), expires_at > now() FROM stepup.sessions"
                      " WHERE programme_id = '6d9c0e1a-0000-4000-8000-000000000001'")
        assert sorted(e for _, e in ends) == ["f", "t"], ends

        # Steps 1-4 were adopted with the checksums of today's files; 5 applied.
        rows = s.psql("SELECT version, name, checksum FROM public.stepup_migrations"
                      " ORDER BY version")
        files = sorted((SQL / "schema").glob("*.sql"))
        assert [(r[0], r[1]) for r in rows] == [(str(int(f.name[:3])), f.stem) for f in files]
        for (_, _, checksum), f in zip(rows, files):
            assert checksum == hashlib.sha256(f.read_bytes()).hexdigest(), f
        again = migrate(s)
        assert again.returncode == 0, again.stderr
        doc = json.loads(again.stdout)
        assert doc["applied"] == [] and doc["adopted"] == [], doc
        assert doc["version"] == int(files[-1].name[:3])

        # Exactly the schema of a fresh database (the session's).
        assert schema_dump(s) == schema_dump(stack)

        # The whole flow: log in, enrol, verify, step up, through the gate.
        demo = subprocess.run([str(ROOT / "tools" / "flow-demo")], env=env,
                              capture_output=True, text=True, timeout=120)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr
        # ... and a real text: issued, delivered by the stack's sender to the
        # (fake) gateway, verified with the code it carried.
        p = s.make_programme(sandbox=False)
        u = s.make_user(p, mobile=GB_MOBILE)
        token = s.session(u)
        assert s.issue(p.api_key, token).status == 204
        [req] = gateway.wait_for(lambda reqs: len(reqs) == 1, timeout=20, to=GB_MOBILE)
        wait_until(lambda: s.psql("SELECT status FROM stepup.sms_outbox WHERE id = :'o'",
                                  o=req["messageId"]) == [["SENT"]], timeout=20, what="SENT")
        assert s.verify(p.api_key, token, code_in(req["text"])).status == 204
    finally:
        down = _run_stack("down", env)
    assert down.returncode == 0, down.stderr
    problems = _scan_for_tool_errors(state_dir)
    assert not problems, "\n\n".join(problems)


def build_stepupctl(tmp_path, edit):
    """A stepupctl built from a copy of sql/ changed by edit(dir): a copy of
    the build tree (without its test state) remade with SQL_DIR pointing at
    the copy, so only migrations.c and the link are redone."""
    sql = tmp_path / "sql"
    shutil.copytree(SQL, sql)
    edit(sql)
    # The copy must find the sources where the build's srcdir says.  A
    # relative one (make distcheck's "../..") is also in the dependency
    # files, so the copy sits that deep below a tree of links to the sources.
    srcdir = re.search(r"^srcdir = (.*)$", (BUILD / "Makefile").read_text(), re.M).group(1)
    if os.path.isabs(srcdir):
        build = tmp_path / "build"
    else:
        parts = Path(srcdir).parts
        ups = next((i for i, part in enumerate(parts) if part != ".."), len(parts))
        rest = parts[ups:]
        assert ups >= 1 and ".." not in rest, f"unexpected srcdir {srcdir}"
        tree = tmp_path / "tree"
        tree.mkdir()
        if rest:  # e.g. ../../src/stepup: that path below tree is the sources
            tree.joinpath(*rest[:-1]).mkdir(parents=True, exist_ok=True)
            tree.joinpath(*rest).symlink_to(ROOT)
        else:  # ../.. (make distcheck): tree holds the sources' entries
            for entry in ROOT.iterdir():
                (tree / entry.name).symlink_to(entry)
        # ups levels below tree (names no source entry has).
        build = tree.joinpath(*(["_copy"] * ups))
    build.mkdir(parents=True)
    with tarfile.open(tmp_path / "build.tar", "w") as tar:
        for entry in BUILD.iterdir():
            if not entry.name.startswith("tests-var"):
                tar.add(entry, arcname=entry.name)
    with tarfile.open(tmp_path / "build.tar") as tar:
        tar.extractall(build)
    (build / "src" / "ctl" / "migrations.c").unlink()  # remade from the copy, whatever its times
    p = subprocess.run(["make", "-C", str(build), "src/ctl/stepupctl", f"SQL_DIR={sql}"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return build / "src" / "ctl" / "stepupctl"


def test_migrate_refuses_an_edited_schema_step(stack, tmp_path):
    def edit(sql):
        f = sql / "schema" / "003_verify_enrol.sql"
        f.write_text(f.read_text() + "\nCOMMENT ON TABLE stepup.verification_attempts IS 'edited';\n")
    ctl = build_stepupctl(tmp_path, edit)
    before, code_before = schema_dump(stack), code_fingerprint(stack)
    p = migrate(stack, ctl)
    assert p.returncode == 1, p.stdout + p.stderr
    assert p.stdout == ""
    assert "sql/schema/003_verify_enrol.sql has changed since it was applied" in p.stderr
    assert "never edited" in p.stderr and "nothing was changed" in p.stderr
    assert schema_dump(stack) == before and code_fingerprint(stack) == code_before
    # The stepupctl of the tree as it is still migrates (nothing to apply).
    p = migrate(stack)
    assert p.returncode == 0 and json.loads(p.stdout)["applied"] == [], p.stderr


def test_a_changed_function_is_applied_by_the_next_migrate(stack, tmp_path):
    """The other side of the layout: editing a file of sql/functions/ is how
    a function changes, with no new step; a removed file is refused until a
    step drops its function."""
    marker = f"changed {time.time()}"

    def edit(sql):
        f = sql / "functions" / "40_api_gate.sql"
        f.write_text(f.read_text().replace(
            "'Authorizer: OK when", f"'{marker}. Authorizer: OK when"))
    ctl = build_stepupctl(tmp_path / "a", edit)
    try:
        p = migrate(stack, ctl)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["applied"] == []
        [[comment]] = stack.psql("SELECT obj_description('stepup.api_gate(bytea, integer, text,"
                                 " boolean, boolean, text, inet, text)'::regprocedure)")
        assert comment.startswith(marker)
    finally:
        assert migrate(stack).returncode == 0  # back to the tree's definition

    ctl = build_stepupctl(tmp_path / "b", lambda sql: (sql / "functions" / "40_api_gate.sql").unlink())
    before = code_fingerprint(stack)
    p = migrate(stack, ctl)
    assert p.returncode == 1
    assert ("function stepup.api_gate(bytea,integer,text,boolean,boolean,text,inet,text) is in the"
            " database"
            " but no file") in p.stderr
    assert code_fingerprint(stack) == before


def test_migrate_refuses_code_no_file_defines(stack):
    # granted too: a GRANT rewrites its catalog row, and still it is found
    stack.psql("CREATE FUNCTION stepup.left_behind(integer) RETURNS integer"
               " LANGUAGE sql AS 'SELECT 1';"
               " GRANT EXECUTE ON FUNCTION stepup.left_behind(integer) TO stepup_app")
    try:
        p = migrate(stack)
        assert p.returncode == 1
        assert "function stepup.left_behind(integer) is in the database but no file" in p.stderr
        assert "DROP FUNCTION IF EXISTS" in p.stderr
    finally:
        stack.psql("DROP FUNCTION stepup.left_behind(integer)")
    assert migrate(stack).returncode == 0


def test_migrate_leaves_exactly_the_grants_of_the_files(stack):
    """A grant given by hand (or by an older file) is gone after a migrate:
    each function is callable only by the roles its file names."""
    stack.psql("GRANT EXECUTE ON FUNCTION stepup.key_programme(bytea) TO stepup_app;"
               " GRANT EXECUTE ON FUNCTION stepup.ctl_user_enrol(uuid, text) TO stepup_sender;"
               " GRANT SELECT ON stepup.challenge_history TO stepup_app")
    p = migrate(stack)
    assert p.returncode == 0, p.stderr
    grants = stack.psql(
        "SELECT p.proname, r.rolname FROM pg_proc p, aclexplode(p.proacl) a"
        "  JOIN pg_roles r ON r.oid = a.grantee"
        " WHERE p.pronamespace = 'stepup'::regnamespace AND a.grantee <> p.proowner"
        " ORDER BY 1, 2")
    expected = {"api_": "stepup_app", "sender_": "stepup_sender", "ctl_": "stepup_operator"}
    assert grants, "no grants at all"
    for name, role in grants:
        assert any(name.startswith(prefix) and role == want
                   for prefix, want in expected.items()), (name, role)
    assert ["key_programme", "stepup_app"] not in grants
    assert stack.psql("SELECT has_table_privilege('stepup_app', 'stepup.challenge_history',"
                      " 'SELECT')") == [["f"]]


def test_migrate_refuses_a_database_of_a_newer_stepupctl(stack):
    stack.psql("INSERT INTO public.stepup_migrations (version, name, checksum)"
               " VALUES (999, '999_future', 'x')")
    try:
        before = code_fingerprint(stack)
        p = migrate(stack)
        assert p.returncode == 1
        assert "schema step 999 (999_future), which this stepupctl does not carry" in p.stderr
        assert code_fingerprint(stack) == before
    finally:
        stack.psql("DELETE FROM public.stepup_migrations WHERE version = 999")


def test_migrate_runs_again_and_concurrently(stack):
    results = []

    def run():
        results.append(migrate(stack))
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in results:
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["applied"] == [] and doc["adopted"] == []
        assert doc["functions"] == len(list((SQL / "functions").glob("*.sql")))
    # Nobody but the granted roles may execute anything.
    assert stack.psql("SELECT p.oid::regprocedure FROM pg_proc p"
                      " WHERE p.pronamespace = 'stepup'::regnamespace"
                      "   AND has_function_privilege('public', p.oid, 'EXECUTE')") == []


def test_migrate_needs_the_owner(stack):
    p = migrate(stack, user="stepup_operator")
    assert p.returncode == 1
    assert "migrate needs the owner of the stepup schema" in p.stderr, p.stderr
    assert "nothing was changed" in p.stderr


def test_every_function_has_one_home():
    """No function or view is defined in two files of sql/, and no schema
    step defines one (a step may drop one)."""
    create = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(FUNCTION|VIEW|TRIGGER)\s+"
                        r"([a-z_.]+)", re.I | re.M)
    homes = {}
    for f in sorted((SQL / "functions").glob("*.sql")):
        for kind, name in create.findall(f.read_text()):
            homes.setdefault((kind.upper(), name), []).append(f.name)
    assert homes, "no definitions found"
    twice = {k: v for k, v in homes.items() if len(v) > 1}
    assert not twice, twice
    for f in sorted((SQL / "schema").glob("*.sql")) + [SQL / "migrate.sql"]:
        found = create.findall(f.read_text())
        if f.name == "migrate.sql":
            found = [(k, n) for k, n in found if not n.startswith("pg_temp.")]
        assert not found, f"{f.name} defines {found}"
    # and src/ctl changes data only through those functions
    for f in sorted((ROOT / "src" / "ctl").glob("*.c")):
        assert not re.search(r"\b(INSERT|UPDATE|DELETE)\b", f.read_text()), f.name
