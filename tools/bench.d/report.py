#!/usr/bin/python3
"""report.py - the figures of a tools/bench run: recorded one measurement
a line (JSON) as the run goes, then printed as tables with their ratios,
written as JSON (--json) and as docs/performance.md (--docs).

    report.py add RESULTS SECTION KEY [--summary FILE] [NAME=VALUE...]
        append a measurement: the wrk summary (common.lua's) or pgbench's
        (report.py pgbench), and fields given as NAME=VALUE (numbers,
        true/false or text); prints a progress line on standard error
    report.py pgbench LOGDIR TPS EXPECTED_ROWS OUT
        a summary, as common.lua writes one, from pgbench's per-transaction
        logs (--log) and its tps
    report.py report RESULTS META [--json FILE] [--docs FILE]
        the tables on standard output; the JSON; the Markdown document

Sections: endpoints (stepup: KEY, apache.KEY behind Apache, pgbouncer.KEY
through PgBouncer),
baselines (noop, reference_*, pgbench_*), growth, sender, rss_kb,
growth_meta, findings.  Keys of a sweep carry the connections: the
measurement at the run's connections is KEY, the others KEY_cN, and the
fastest of all KEY_peak (with its connections)."""

import glob
import json
import math
import os
import sys

# The endpoints of stepup, in the order of the tables, with their request
# and what each row means.
ENDPOINTS = [
    ("health", "GET /health", "lighttpd, FastCGI, a worker and one round trip to PostgreSQL"),
    ("issue", "POST /stepup/challenges/otp/SMS", "a challenge issued and its text queued (204)"),
    ("verify_wrong", "POST .../verify, wrong code", "a wrong code counted on a pending challenge (409)"),
    ("verify_right", "POST .../verify, right code", "a fresh pending challenge verified, the session stepped up (204)"),
    ("gate", "GET /legacy/ via the gate", "the FastCGI Authorizer lets a stepped-up session through to a page (200)"),
    ("logout", "POST /logout", "a fresh session ended (204)"),
    ("login", "POST /login_with_password", "a password checked (scrypt) and a session opened (200)"),
]
# Each endpoint's baseline B (the reference responder) and C (pgbench).
REFERENCE = {"issue": "reference_issue", "verify_wrong": "reference_verify_wrong",
             "verify_right": "reference_verify_right"}
PGBENCH = {"issue": "pgbench_issue", "verify_wrong": "pgbench_verify_wrong",
           "verify_right": "pgbench_verify_right"}
BASELINES = [
    ("noop", "A", "lighttpd + a FastCGI responder that does nothing"),
    ("reference_issue", "B", "lighttpd + a minimal responder: the issue's essential work, one SQL call"),
    ("reference_verify_wrong", "B", "the same, a wrong code's essential work"),
    ("reference_verify_right", "B", "the same, a right code's essential work"),
    ("pgbench_issue", "C", "pgbench calling the reference issue function directly"),
    ("pgbench_verify_wrong", "C", "pgbench, the reference verify with a wrong code"),
    ("pgbench_verify_right", "C", "pgbench, the reference verify with the right code"),
]
TARGETS = {"vs_b": 0.7, "p99_ms": 15.0, "apache": 0.8, "growth": 0.9, "rss_kb": 8192}


def parse_value(text):
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def cmd_add(args):
    results, section, key = args[0], args[1], args[2]
    rec = {"section": section, "key": key}
    rest = args[3:]
    if rest and rest[0] == "--summary":
        with open(rest[1]) as f:
            rec.update(json.load(f))
        rest = rest[2:]
    for item in rest:
        name, _, value = item.partition("=")
        rec[name] = parse_value(value)
    with open(results, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")
    if "rps" in rec:
        bad = {s: n for s, n in rec.get("statuses", {}).items() if str(s) != str(rec.get("expect"))}
        note = ""
        if bad:
            note += "  UNEXPECTED " + ", ".join(f"{s}: {n}" for s, n in sorted(bad.items()))
        if rec.get("exhausted"):
            note += "  (ran out of fresh sessions)"
        print(f"    {label(rec):<34} {rec['rps']:>9,.0f} req/s   p50 {rec['p50_ms']:6.2f} ms"
              f"   p99 {rec['p99_ms']:7.2f} ms{note}", file=sys.stderr)


def percentile(values, p):
    if not values:
        return 0.0
    k = max(0, min(len(values) - 1, math.ceil(p / 100.0 * len(values)) - 1))
    return values[k]


def cmd_pgbench(args):
    logdir, tps, expected, out = args[0], float(args[1]), int(args[2]), args[3]
    lat = []
    for path in glob.glob(logdir + "/pgbench_log*"):
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    lat.append(int(fields[2]) / 1000.0)
    lat.sort()
    n = len(lat)
    summary = {
        "requests": n, "rps": tps, "rps_all": tps, "expect": 0, "statuses": {"0": n},
        "p50_ms": percentile(lat, 50), "p90_ms": percentile(lat, 90),
        "p99_ms": percentile(lat, 99), "mean_ms": sum(lat) / n if n else 0.0,
        "max_ms": lat[-1] if lat else 0.0, "socket_errors": 0,
        "exhausted": expected > 0 and n > expected, "tool": "pgbench",
    }
    with open(out, "w") as f:
        json.dump(summary, f)


def label(rec):
    c = rec.get("connections")
    return f"{rec['section']}.{rec['key']}" + (f" @{c}" if c else "")


# --- the report -----------------------------------------------------------

class Run:
    def __init__(self, results, meta):
        self.recs = []
        with open(results) as f:
            for line in f:
                if line.strip():
                    self.recs.append(json.loads(line))
        with open(meta) as f:
            self.meta = json.load(f)
        self.conns = self.meta["connections"]
        self.workers = self.meta.get("workers", "?")

    def find(self, section, key, conns=None):
        """The last measurement of section/key at conns (the run's by default)."""
        conns = self.conns if conns is None else conns
        found = None
        for r in self.recs:
            if r["section"] == section and r["key"] == key and r.get("connections", conns) == conns:
                found = r
        return found

    def sweep(self, section, key):
        """{connections: measurement} of section/key."""
        out = {}
        for r in self.recs:
            if r["section"] == section and r["key"] == key and "connections" in r:
                out[r["connections"]] = r
        return out

    def values(self, section):
        return [r for r in self.recs if r["section"] == section]


def small_of(run, key):
    """The small database's row beside growth row key: measured right
    before it (growth.small_KEY), else the main table's."""
    return run.find("growth", "small_" + key) or run.find("endpoints", key)


def fig(rec):
    out = {"rps": round(rec["rps"], 1), "p50_ms": round(rec["p50_ms"], 3),
           "p99_ms": round(rec["p99_ms"], 3)}
    cpu = cpu_us(rec)
    if cpu is not None:
        out["cpu_us"] = round(cpu, 1)
    return out


def ratio(a, b):
    if not a or not b or not b.get("rps"):
        return None
    return a["rps"] / b["rps"]


def cpu_us(rec):
    """The CPU per request of a row, in microseconds: the CPU time of the
    processes that served it (every user-space process that ran through
    the row but the load generator: web server, responder, PostgreSQL)
    over the requests answered (measure.sh: cpu_mark)."""
    if not rec or "server_cpu_s" not in rec or not rec.get("requests"):
        return None
    return rec["server_cpu_s"] / rec["requests"] * 1e6


def cpu_ratio(a, b):
    """a's throughput over b's as CPU per request has it: b's CPU per
    request over a's (what the ratio of requests per second would be on a
    machine that ran nothing else)."""
    ca, cb = cpu_us(a), cpu_us(b)
    if not ca or not cb:
        return None
    return cb / ca


def fmt_cpu(rec):
    c = cpu_us(rec)
    return "" if c is None else f"{c:,.0f}"


def keyed_figures(run, section):
    """The JSON of a section of wrk/pgbench rows: KEY, KEY_cN, KEY_peak."""
    out = {}
    keys = []
    for r in run.recs:
        if r["section"] == section and "rps" in r and r["key"] not in keys:
            keys.append(r["key"])
    for key in keys:
        sweep = run.sweep(section, key)
        for c, r in sorted(sweep.items()):
            out[key if c == run.conns else f"{key}_c{c}"] = fig(r)
        if len(sweep) > 1:
            best = max(sweep.values(), key=lambda r: r["rps"])
            out[key + "_peak"] = dict(fig(best), connections=best["connections"])
    return out


def build_json(run):
    doc = {}
    endpoints = keyed_figures(run, "endpoints")
    if endpoints:
        doc["endpoints"] = endpoints
    baselines = keyed_figures(run, "baselines")
    if baselines:
        doc["baselines"] = baselines
    sender = {r["key"]: round(r["value"], 1) for r in run.values("sender")}
    if sender:
        doc["sender"] = sender
    growth = keyed_figures(run, "growth")
    if growth:
        for key in list(growth):
            if key.startswith("small_"):
                continue
            small = small_of(run, key)
            if small:
                growth[key + "_ratio"] = round(growth[key]["rps"] / small["rps"], 3)
                r = cpu_ratio(run.find("growth", key), small)
                if r is not None:
                    growth[key + "_cpu_ratio"] = round(r, 3)
        for m in run.values("growth_meta"):
            for name in ("challenges", "users", "months", "generate_seconds", "reused",
                         "database_bytes"):
                if name in m:
                    growth[name] = m[name]
        doc["growth"] = growth
    rss = {r["key"]: {"vmrss": r["vmrss"], "rss_anon": r["rss_anon"], "vmhwm": r["vmhwm"]}
           for r in run.values("rss_kb")}
    if rss:
        doc["rss_kb"] = rss
    return doc


def fmt_ratio(x):
    return "" if x is None else f"{x:.2f}"


def mark(ok):
    return "" if ok is None else ("met" if ok else "MISSED")


def statuses(rec):
    s = rec.get("statuses", {})
    if rec.get("tool") == "pgbench":
        return "pgbench" + (" (ran out of sessions)" if rec.get("exhausted") else "")
    text = " ".join(f"{k}:{v}" for k, v in sorted(s.items()))
    if any(str(k) != str(rec.get("expect")) for k in s):
        text += "  UNEXPECTED"
    if rec.get("exhausted"):
        text += " (ran out of sessions)"
    return text


def cpu_notes(run):
    """What the CPU figures are, and how much of the host other machines
    took meanwhile (steal)."""
    recs = [r for r in run.recs if "server_cpu_s" in r]
    if not recs:
        return []
    busy = sum(r["cpu_s"] for r in recs)
    steal = sum(r.get("steal_s", 0.0) for r in recs)
    return ["CPU µs/req: the CPU time of the processes that served the row (web server, "
            "responder, PostgreSQL; not the load generator) over the requests answered; /B by CPU: B's over "
            "the row's, the ratio of req/s on a machine that ran nothing else. Other machines "
            f"on the host took {100 * steal / (busy + steal) if busy + steal else 0:.0f}% of "
            "this machine's CPU time (steal) during the rows."]


def beside_rows(run, prefix):
    """The rows of the endpoints measured with PREFIX (apache., pgbouncer.),
    each over the same endpoint measured right before it behind lighttpd."""
    rows = []
    for key, request, _ in ENDPOINTS:
        rec, l = run.find("endpoints", prefix + key), run.find("endpoints", key)
        if rec:
            rows.append([prefix + key, request, f"{rec['rps']:,.0f}", f"{rec['p50_ms']:.2f}",
                         f"{rec['p99_ms']:.2f}", fmt_ratio(ratio(rec, l)), fmt_cpu(rec),
                         fmt_ratio(cpu_ratio(rec, l)), statuses(rec)])
    return rows


def tables(run, md=False):
    """The tables, as rows of cells: [(title, header, rows, notes)]."""
    out = []
    noop = run.find("baselines", "noop")

    rows = []
    for key, request, _ in ENDPOINTS:
        rec = run.find("endpoints", key)
        if not rec:
            continue
        b = run.find("baselines", REFERENCE.get(key, ""))
        rows.append([key, request, f"{rec['rps']:,.0f}", f"{rec['p50_ms']:.2f}",
                     f"{rec['p99_ms']:.2f}", fmt_ratio(ratio(rec, noop)), fmt_ratio(ratio(rec, b)),
                     fmt_cpu(rec), fmt_ratio(cpu_ratio(rec, b)), statuses(rec)])
    if rows:
        out.append((f"stepup behind lighttpd, {run.conns} connections",
                    ["row", "request", "req/s", "p50 ms", "p99 ms", "/A noop", "/B reference",
                     "CPU µs/req", "/B by CPU", "statuses"], rows, cpu_notes(run)))

    rows = []
    for key, letter, what in BASELINES:
        rec = run.find("baselines", key)
        if not rec:
            continue
        c = run.find("baselines", key.replace("reference_", "pgbench_")) if key.startswith("reference_") else None
        rows.append([f"{key} ({letter})", what, f"{rec['rps']:,.0f}", f"{rec['p50_ms']:.2f}",
                     f"{rec['p99_ms']:.2f}", fmt_ratio(ratio(rec, noop)) if key != "noop" else "",
                     fmt_ratio(ratio(rec, c)), fmt_cpu(rec), statuses(rec)])
    if rows:
        out.append((f"Baselines, {run.conns} connections",
                    ["row", "what", "req/s", "p50 ms", "p99 ms", "/A noop", "B/C", "CPU µs/req",
                     "statuses"], rows, []))

    # The targets.
    rows = []
    for key in ("issue", "verify_wrong", "verify_right"):
        rec, b = run.find("endpoints", key), run.find("baselines", REFERENCE[key])
        if rec and b:
            r = ratio(rec, b)
            rows.append([f"{key} / {REFERENCE[key]}", fmt_ratio(r), f">= {TARGETS['vs_b']}",
                         mark(r >= TARGETS["vs_b"])])
            r = cpu_ratio(rec, b)
            if r is not None:
                rows.append([f"{key} / {REFERENCE[key]}, by CPU per request", fmt_ratio(r),
                             f">= {TARGETS['vs_b']}", mark(r >= TARGETS["vs_b"])])
        if rec:
            rows.append([f"{key} p99 at {run.conns} connections", f"{rec['p99_ms']:.1f} ms",
                         f"<= {TARGETS['p99_ms']:.0f} ms", mark(rec["p99_ms"] <= TARGETS["p99_ms"])])
    for key, _, _ in ENDPOINTS:
        rec, l = run.find("endpoints", "apache." + key), run.find("endpoints", key)
        if rec and l:
            r = ratio(rec, l)
            rows.append([f"apache.{key} / {key}", fmt_ratio(r), f">= {TARGETS['apache']}",
                         mark(r >= TARGETS["apache"])])
            r = cpu_ratio(rec, l)
            if r is not None:
                rows.append([f"apache.{key} / {key}, by CPU per request", fmt_ratio(r),
                             f">= {TARGETS['apache']}", mark(r >= TARGETS["apache"])])
    for key in ("issue", "verify_wrong", "verify_right"):
        rec, small = run.find("growth", key), small_of(run, key)
        if rec and small:
            r = ratio(rec, small)
            rows.append([f"growth.{key} / small database", fmt_ratio(r), f">= {TARGETS['growth']}",
                         mark(r >= TARGETS["growth"])])
            r = cpu_ratio(rec, small)
            if r is not None:
                rows.append([f"growth.{key} / small database, by CPU per request", fmt_ratio(r),
                             f">= {TARGETS['growth']}", mark(r >= TARGETS["growth"])])
    for r in run.values("rss_kb"):
        if r["key"].startswith("stepup_fcgi"):
            rows.append([f"{r['key']} VmRSS", f"{r['vmrss']:,} kB", f"<= {TARGETS['rss_kb']:,} kB",
                         mark(r["vmrss"] <= TARGETS["rss_kb"])])
    if rows:
        out.append(("Targets (issue 10)", ["measure", "this run", "target", ""], rows, []))

    # The sweep.
    swept = [("baselines", "noop"), ("baselines", "reference_issue"), ("baselines", "pgbench_issue"),
             ("endpoints", "issue"), ("baselines", "reference_verify_wrong"),
             ("baselines", "pgbench_verify_wrong"), ("endpoints", "verify_wrong"),
             ("endpoints", "health"), ("endpoints", "gate")]
    conns = sorted({c for s, k in swept for c in run.sweep(s, k)})
    rows = []
    for s, k in swept:
        sw = run.sweep(s, k)
        if len(sw) < 2:
            continue
        best = max(sw.values(), key=lambda r: r["rps"])
        rows.append([k] + [f"{sw[c]['rps']:,.0f} / {sw[c]['p99_ms']:.1f}" if c in sw else ""
                           for c in conns] + [f"{best['rps']:,.0f} @{best['connections']}"])
    if rows:
        out.append(("Sweep: req/s / p99 ms by connections",
                    ["row"] + [str(c) for c in conns] + ["peak"], rows, []))

    rows = beside_rows(run, "apache.")
    if rows:
        out.append((f"stepup behind Apache mod_proxy_fcgi, {run.conns} connections",
                    ["row", "request", "req/s", "p50 ms", "p99 ms", "/lighttpd", "CPU µs/req",
                     "/lighttpd by CPU", "statuses"], rows, []))

    rows = beside_rows(run, "pgbouncer.")
    if rows:
        out.append((f"stepup through PgBouncer (transaction pooling, {run.workers} server connections), "
                    f"{run.conns} connections",
                    ["row", "request", "req/s", "p50 ms", "p99 ms", "/direct", "CPU µs/req",
                     "/direct by CPU", "statuses"],
                    rows, ["direct: the same row with stepup-fcgi connected to PostgreSQL itself, "
                           "measured right before"]))

    rows = []
    for key in ("issue", "verify_wrong", "verify_right"):
        rec, small = run.find("growth", key), small_of(run, key)
        if rec:
            rows.append([f"growth.{key}", f"{rec['rps']:,.0f}", f"{rec['p50_ms']:.2f}",
                         f"{rec['p99_ms']:.2f}", f"{small['rps']:,.0f}" if small else "",
                         fmt_ratio(ratio(rec, small)), fmt_cpu(rec), fmt_cpu(small),
                         fmt_ratio(cpu_ratio(rec, small)), statuses(rec)])
    notes = []
    for m in run.values("growth_meta"):
        notes.append(f"{m['challenges']:,} challenges of history over {m['months']} months, "
                     f"{m['users']:,} users; database {m.get('database_bytes', 0) / 2**30:.1f} GiB; "
                     + (f"generated earlier in {m['generate_seconds']:,} s (reused)" if m.get("reused")
                        else f"generated in {m['generate_seconds']:,} s"))
    if rows:
        notes.append("small database: the same row on the main stack, measured right before")
        out.append((f"Growth, {run.conns} connections",
                    ["row", "req/s", "p50 ms", "p99 ms", "small database req/s", "ratio",
                     "CPU µs/req", "small database CPU µs/req", "ratio by CPU", "statuses"],
                    rows, notes))

    rows = []
    for r in run.values("sender"):
        rows.append([f"sender.{r['key']}", f"{r['value']:,.1f}", str(r["senders"]),
                     f"{r['gateway_ms']} ms", f"{r['sent']:,} of {r['texts']:,}",
                     f"{r['seconds']:.1f}" + (" (time limit)" if r.get("timeboxed") else "")])
    if rows:
        out.append(("Delivery: texts per second into a loopback gateway",
                    ["row", "texts/s", "senders", "gateway answers in", "sent", "seconds"], rows, []))

    rows = []
    for r in run.values("rss_kb"):
        rows.append([r["key"], r.get("what", ""), f"{r['vmrss']:,}", f"{r['rss_anon']:,}",
                     f"{r['vmhwm']:,}"])
    if rows:
        out.append(("Memory after the runs (kB)", ["process", "what", "VmRSS", "RssAnon", "VmHWM (peak)"],
                    rows, []))
    return out


def render_text(title, header, rows, notes):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = [title]
    lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for row in rows:
        lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    lines += ["  " + n for n in notes]
    return "\n".join(lines)


def render_md(title, header, rows, notes):
    lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    if notes:
        lines.append("")
        lines += notes
    return "\n".join(lines)


def findings(run):
    return [r["text"] for r in run.values("findings")]


def cmd_report(args):
    results, meta = args[0], args[1]
    run = Run(results, meta)
    opts = dict(zip(args[2::2], args[3::2]))
    m = run.meta
    print(f"stepup bench, {m['date']}: {m['cpu']}, {m['cores']} cores, {m['memory']}, "
          f"PostgreSQL {m['postgresql']}; {m['seconds']} s a row, "
          f"{run.conns} connections; wall time {m.get('wall_seconds', '?')} s")
    for t in tables(run):
        print()
        print(render_text(*t))
    f = findings(run)
    if f:
        print()
        print("Findings")
        for line in f:
            print("  - " + line)
    if "--json" in opts:
        with open(opts["--json"], "w") as out:
            json.dump(build_json(run), out, indent=2, sort_keys=True)
            out.write("\n")
    if "--docs" in opts:
        with open(opts["--docs"], "w") as out:
            out.write(docs(run))


def docs(run):
    m = run.meta
    parts = [DOC_HEAD.format(**m)]
    parts.append("## The figures\n")
    for t in tables(run, md=True):
        parts.append(render_md(*t) + "\n")
    f = findings(run)
    if f:
        parts.append("### What the run noticed\n")
        parts += ["- " + line for line in f]
        parts.append("")
    if m.get("profile"):
        parts.append("### Where an issue's database time goes\n")
        parts.append(m["profile"] + "\n")
    parts.append(DOC_TAIL.format(**m))
    return "\n".join(parts)


DOC_HEAD = """# Performance

Written by `tools/bench` ({command}) on {date}; edit the script, not this
file.  Every figure below comes from that one run, on a machine **shared
with other work** (2 cores): read rows against each other and against the
baselines measured beside them, never against another run's.

## The machine and the database

| | |
|---|---|
| CPU | {cpu}, {cores} cores |
| memory | {memory} |
| kernel | {kernel} ({os}) |
| PostgreSQL | {postgresql}: {pg_settings} |
| web servers | {web_servers} |
| load generator | {wrk}, 2 threads, {seconds} s a row after a warm-up; pgbench {pgbench}, 2 threads, prepared statements |
| stepup | commit {commit}; stepup-fcgi with {workers} worker threads, stand-alone on a unix socket; login's password hash: scrypt {scrypt} |
| load average | {load_start} at the start, {load_end} at the end |
| wall time | {wall_seconds} s |

Every server ran on the same 2 cores as the load generator, on the
loopback interface.  The cluster is durable (`fsync` and
`synchronous_commit` on, as in production); the test suite turns both off,
the benchmark never does.
"""

DOC_TAIL = """## How to read it

- **req/s** counts the answers with the status the row expects (204, 200
  or, for a wrong code, 409) per second; any other status is listed under
  *statuses* and marked UNEXPECTED.
- **p50, p99** are wrk's latency percentiles.  Debian's wrk corrects them
  for coordinated omission: for every request slower than twice the mean
  interval per connection it adds the requests a steady client would have
  sent meanwhile, with their would-be latencies.  A stall of the machine
  (the other work on these cores, a checkpoint) therefore weighs on p99
  more than in the raw samples; a p99 far above p50 is a stall, not the
  typical request.  pgbench's percentiles are raw (its per-transaction
  log).
- **/A noop**: the row's throughput over the no-op FastCGI responder's
  behind the same lighttpd: what share of the HTTP and FastCGI ceiling is
  left after stepup's work.
- **/B reference**: over the minimal responder that does the same
  request's essential database work in one SQL call
  (`tools/bench.d/sql/reference.sql`, `tools/bench.d/reference_fcgi.c`):
  1.0 would mean stepup costs nothing beyond that work.  **B/C**: the
  reference responder over pgbench calling the same function: what HTTP,
  FastCGI and the responder cost on top of the database call.
- **CPU µs/req**: the CPU time the serving processes used during the row
  (web server, responder, PostgreSQL, all their threads; not the load
  generator, nor root's processes when run as root) over the requests
  answered.  A ratio **by CPU** is one row's over another's (B's over the
  endpoint's): the ratio of req/s on a machine that ran nothing else.
  It is a second view of the same rows, not a noise-free one: other work
  on a shared host slows the serving processes too; a ratio by req/s and
  its ratio by CPU that disagree widely mean a stall in one of the rows.
- **Apache** rows are the same requests behind Apache's mod_proxy_fcgi
  (`httpd-conf/apache-proxy.conf.in`), in front of the same stepup-fcgi,
  each measured right after lighttpd's and read over it.
- **PgBouncer**: issue through a second stepup-fcgi (the same workers,
  `db_prepared_statements = 0`) and lighttpd, reaching the same database
  through PgBouncer in transaction pooling mode with as many server
  connections as workers (`tools/lib/stack/pgbouncer.sh`), measured right
  after the direct row and read over it.
- **Growth** rows are issue and verify again on a database holding
  {growth_desc}, each over the same row on the small database, measured
  right before it.
- **Delivery**: `stepup-sender` draining queued texts into a loopback
  gateway (nginx) that answers at once, or after 200 ms; a row whose
  texts were not all sent within its time limit is the rate until then.
- **Memory**: VmRSS (resident), RssAnon (its anonymous part: heap and
  stacks, what the program itself allocated) and VmHWM (the peak) from
  `/proc/PID/status` after the runs.

## How to reproduce

```sh
{reproduce}
```

`tools/bench --help` lists the options; `--only ROWS` runs some rows,
`--no-growth` skips the growth cluster (the longest part), `--json FILE`
writes the figures as JSON (keys in the README's "Benchmark" section).
"""


def cmd_cpu_mark(args):
    """The CPU time so far of every user-space process (utime + stime of
    all its threads, and cutime + cstime of its children that ended;
    kernel threads left out, and the process args[1], tools/bench's shell,
    whose children are the load generators; when run as root, root's
    processes too: the servers run as users of their own, and root's are
    this script, its shell and the machine's agents), and the machine's
    busy and stolen time, as JSON into args[0]."""
    hz = os.sysconf("SC_CLK_TCK")
    root = os.geteuid() == 0
    exclude = args[1] if len(args) > 1 else ""  # tools/bench's shell: the load generators are its children
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == 2 or pid == "2" or int(fields[6]) & 0x00200000:  # PF_KTHREAD
            continue
        try:
            if pid == exclude or (root and os.stat(f"/proc/{pid}").st_uid == 0):
                continue  # run as root, the servers run as their users: not theirs
        except OSError:
            continue
        # its own time and its reaped children's (a PostgreSQL backend that
        # ended during the row is in the postmaster's)
        procs[pid] = [stat[stat.index("(") + 1:stat.rindex(")")],
                      sum(int(x) for x in fields[11:15]) / hz]
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    busy = (cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6]) / hz
    steal = (cpu[7] if len(cpu) > 7 else 0) / hz
    with open(args[0], "w") as f:
        json.dump({"procs": procs, "busy": busy, "steal": steal}, f)


def cmd_cpu_fields(args):
    """NAME=VALUE words of the CPU used between two marks (cpu-mark):
    server_cpu_s, what the processes at the second mark used since the
    first (the whole of those started meanwhile); cpu_s and steal_s, the
    machine's; loadgen_s as given."""
    with open(args[0]) as f:
        a = json.load(f)
    with open(args[1]) as f:
        b = json.load(f)
    server = 0.0
    for pid, (comm, t) in b["procs"].items():
        if pid in a["procs"] and a["procs"][pid][0] == comm:
            server += max(0.0, t - a["procs"][pid][1])
        else:
            server += t  # started during the row
    print(f"server_cpu_s={server:.3f} cpu_s={b['busy'] - a['busy']:.3f} "
          f"steal_s={b['steal'] - a['steal']:.3f} loadgen_s={float(args[2]):.3f}")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"add": cmd_add, "pgbench": cmd_pgbench, "report": cmd_report, "cpu-mark": cmd_cpu_mark,
     "cpu-fields": cmd_cpu_fields}[cmd](args)


if __name__ == "__main__":
    main()
