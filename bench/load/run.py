"""Load test, run by hand: seed a PostgreSQL database, serve it with gunicorn, run locust, check every answer.

Usage: .venv/bin/python bench/load/run.py        (needs the extra: .venv/bin/pip install -e '.[load]')

Steps, all on loopback and bounded in time:

1. drop and create the database ``familyalliance_load`` (LOAD_DATABASE; on LOAD_PG, default
   postgresql://postgres@127.0.0.1:5432; only a loopback host is accepted), then
   ``flask --app familyalliance db upgrade`` on it;
2. seed it through the app's own operations (bench/load/seed.py): therapists, families with past
   answers, and member links whose tokens go to a private file in the run's folder;
3. start gunicorn (LOAD_WORKERS, default 4 sync workers) on 127.0.0.1 and a free port, with a
   SECRET_KEY fixed for the run so every worker accepts every other's sessions and CSRF tokens;
   with LOAD_STAFF_WORKERS, a second gunicorn of that many workers for the therapists' pages, at
   the priority LOAD_STAFF_NICE (a niceness, default 10, or ``idle``: Linux's SCHED_IDLE), as
   docs/operations.md's proxy routes the families' paths to one pool and the staff's to the other;
4. run locust headless (bench/load/locustfile.py): LOAD_MEMBERS (50) members and one therapist per
   account (LOAD_THERAPISTS, 10), spawned at LOAD_SPAWN_RATE (20/s) for LOAD_RUN_TIME (60s), then
   up to LOAD_STOP_TIMEOUT (30) seconds for users to finish what they are doing; locust at the
   niceness LOAD_LOCUST_NICE (default 0; -10 gives the load generator, which stands for the
   families' phones and the therapists' browsers, the cores before the server it measures);
5. check the database: every member whose POST got the thank-you page has its link closed and
   exactly its questionnaire's number of answers stored; no link has answers without being
   closed, or a part of its answers; locust saw no failure; gunicorn logged no error;
6. stop gunicorn (its whole process group) whatever happened.

Prints a summary (locust's figures per request type, the server's own time per request type from
gunicorn's access log, CPU time by process, the database counts) and exits 1 on any failure.
Logs and locust's CSV files stay in the run's folder (printed). Settings of the app pass through
as usual: ``FAMILYALLIANCE_<NAME>`` in the environment reaches gunicorn's workers. With REDIS_URL
(for example redis://127.0.0.1:6379/13) the workers share their page cache and rate limits in that
Redis, under a key prefix of the run's own, so nothing another run left there is read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
#: The database the run drops and creates (LOAD_DATABASE): its own, never one that holds anything else.
DATABASE = os.environ.get("LOAD_DATABASE", "familyalliance_load")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


#: How run.py starts a pool at a priority given by name (any other value is a niceness for ``nice -n``).
PRIORITY = {"0": [], "idle": ["chrt", "--idle", "0"]}


def setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def recreate_database(admin_url: str) -> str:
    """Drop and create DATABASE on the server of ``admin_url``; return the app's URL for it."""
    parts = urlsplit(admin_url)
    if parts.hostname not in LOOPBACK:
        raise SystemExit(f"LOAD_PG must point at this machine (127.0.0.1), not {parts.hostname!r}")
    with psycopg.connect(admin_url.rstrip("/") + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return admin_url.rstrip("/") + "/" + DATABASE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer /healthz within {seconds:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    """Stop gunicorn and its workers: TERM to its process group, KILL after 20 s."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # workers left behind by a master that died
        os.killpg(server.pid, signal.SIGKILL)


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in processes:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def postgres_processes() -> list[psutil.Process]:
    """The server's own processes and the backends of DATABASE (not those of other databases)."""
    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        if p.info["name"] not in ("postgres", "postmaster"):
            continue
        title = " ".join(p.info["cmdline"] or [])
        backend = re.search(r"postgres: (?:[^:]+: )?\S+ (\S+) \S*\(\d+\)", title)
        if backend is None or backend.group(1) == DATABASE:
            out.append(p)
    return out


def server_tree(server: subprocess.Popen) -> list[psutil.Process]:
    try:
        master = psutil.Process(server.pid)
        return [master, *master.children(recursive=True)]
    except psutil.Error:
        return []


ROUTES = [
    ("GET /r/[token]", re.compile(r"^GET /r/[^/ ]+$")),
    ("POST /r/[token]/draft", re.compile(r"^POST /r/[^/ ]+/draft$")),
    ("POST /r/[token] (submit)", re.compile(r"^POST /r/[^/ ]+$")),
    ("GET /login", re.compile(r"^GET /login$")),
    ("POST /login", re.compile(r"^POST /login$")),
    ("GET /families/", re.compile(r"^GET /families/$")),
    ("GET /families/[code]", re.compile(r"^GET /families/[^/ ]+$")),
    ("GET /families/[code]/sessions/[n]", re.compile(r"^GET /families/[^/ ]+/sessions/\d+$")),
    ("GET /healthz", re.compile(r"^GET /healthz$")),
]
ACCESS = re.compile(r'"(\w+) ([^ ?"]+)[^"]*" (\d{3}) \S+ (\d+)$')


def server_times(access_logs: list[Path]) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Server-side milliseconds per route (gunicorn's %(M)s), and the count of each status class."""
    times: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, int] = defaultdict(int)
    lines = [line for log in access_logs for line in log.read_text(errors="replace").splitlines()]
    for line in lines:
        m = ACCESS.search(line)
        if not m:
            continue
        method, path, status, ms = m.groups()
        statuses[status[0] + "xx"] += 1
        request = f"{method} {path}"
        name = next((n for n, pattern in ROUTES if pattern.match(request)), request)
        if name == "GET /r/[token]" and status == "410":
            name = "GET /r/[token] (used, 410)"
        times[name].append(float(ms))
    return times, statuses


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def check_database(url: str, seed: dict, results: dict[str, str]) -> tuple[list[str], dict]:
    """Compare every link's state and stored answers with what its member was told."""
    errors = []
    expected = {code: len(i["items"]) for code, i in seed["instruments"].items()}
    by_id = {row["link_id"]: row for row in seed["links"]}
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """
            SELECT l.id, l.answered_at IS NOT NULL, l.draft IS NOT NULL, count(r.item), count(r.value)
            FROM questionnaire_request l
            LEFT JOIN response r ON r.family_id = l.family_id AND r.member_id = l.member_id
                 AND r.session_id = l.session_id AND r.target = l.target AND r.instrument = l.instrument
                 AND r.informant = 'self'
            GROUP BY l.id
            """
        ).fetchall()
        total_responses = conn.execute("SELECT count(*) FROM response").fetchone()[0]
        used_links = conn.execute(
            "SELECT count(*) FROM questionnaire_request WHERE answered_at IS NOT NULL AND id = ANY(%s)",
            (list(by_id),),
        ).fetchone()[0]
    counts = defaultdict(int)
    for link_id, used, has_draft, stored, answered in rows:
        link = by_id.get(link_id)
        if link is None:
            continue  # a request of a past session, answered when seeded
        outcome = results.get(link["token"], "not taken")
        need = expected[link["instrument"]]
        where = f"link {link_id} ({link['family']} session {link['session']}, {link['instrument']})"
        counts["links"] += 1
        counts["answers stored for links"] += stored
        if outcome == "thanked":
            counts["thanked"] += 1
            if not used:
                errors.append(f"LOST: {where}: thank-you page shown, link still open")
            if stored != need or answered != need:
                errors.append(f"LOST: {where}: thank-you page shown, {stored} rows ({answered} answered), need {need}")
        elif used:
            counts[f"closed without a thank-you seen ({outcome})"] += 1
            if outcome != "submitting":
                errors.append(f"{where}: closed, but its member was told {outcome!r}")
        if stored and not used:
            errors.append(f"{where}: {stored} answers stored but the link is open")
        if used and stored != need:
            errors.append(f"PARTIAL: {where}: closed with {stored} rows, expected {need}")
        if used and has_draft:
            errors.append(f"{where}: closed but still holds a draft")
        if not used and outcome.startswith(("submit failed", "open failed")):
            counts[f"open after a failure ({outcome})"] += 1
    counts["links' requests answered (answered_at set)"] = used_links
    counts["response rows, all"] = total_responses
    counts["response rows, seeded"] = seed["answers_seeded"]
    if total_responses - seed["answers_seeded"] != counts["answers stored for links"]:
        errors.append(
            f"response rows added during the run: {total_responses - seed['answers_seeded']}, "
            f"rows belonging to links: {counts['answers stored for links']}"
        )
    return errors, dict(counts)


def main() -> int:  # noqa: C901 - one straight script
    admin_url = setting("LOAD_PG", "postgresql://postgres@127.0.0.1:5432")
    workers = int(setting("LOAD_WORKERS", "4"))
    staff_workers = int(setting("LOAD_STAFF_WORKERS", "0"))
    staff_nice = setting("LOAD_STAFF_NICE", "10")  # a niceness, or "idle": Linux's SCHED_IDLE
    locust_nice = int(setting("LOAD_LOCUST_NICE", "0"))
    members = int(setting("LOAD_MEMBERS", "50"))
    therapists = int(setting("LOAD_THERAPISTS", "10"))
    therapist_users = int(setting("LOAD_THERAPIST_USERS", str(therapists)))
    spawn_rate = setting("LOAD_SPAWN_RATE", "20")
    run_time = setting("LOAD_RUN_TIME", "60s")
    stop_timeout = setting("LOAD_STOP_TIMEOUT", "30")
    if therapist_users > therapists:
        raise SystemExit("LOAD_THERAPIST_USERS cannot exceed LOAD_THERAPISTS: each account logs in once")
    run_dir = Path(tempfile.mkdtemp(prefix="familyalliance-load-"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    step(f"run folder {run_dir}; load average before the run {load} (other work on the machine skews the figures)")
    secret = secrets.token_hex(32)
    env = dict(os.environ, SECRET_KEY=secret, LOAD_THERAPISTS=str(therapists), PYTHONUNBUFFERED="1")
    # The simulated therapists log in with their password only (two-factor sign-in has its own tests).
    env.setdefault("FAMILYALLIANCE_TWO_FACTOR_ROLES", "[]")
    redis_url = os.environ.get("REDIS_URL", "")
    if redis_url:
        if urlsplit(redis_url).hostname not in LOOPBACK:
            raise SystemExit(f"REDIS_URL must point at this machine (127.0.0.1), not {urlsplit(redis_url).hostname!r}")
        # A prefix of the run's own: the ids of a database created afresh repeat, and so would the cache's keys.
        env.setdefault("FAMILYALLIANCE_REDIS_KEY_PREFIX", f"load-{secrets.token_hex(4)}")
        step(f"Redis {redis_url}, key prefix {env['FAMILYALLIANCE_REDIS_KEY_PREFIX']}")
    else:
        step("no REDIS_URL: each worker keeps its own page cache")
    errors: list[str] = []

    app_dir = ROOT
    ref = setting("LOAD_REF", "")
    if ref:  # a clean export of one commit, so edits in progress in the working tree do not count
        commit = subprocess.run(
            ["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        app_dir = run_dir / f"app-{commit}"
        app_dir.mkdir()
        step(f"exporting {ref} ({commit}) to {app_dir}")
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", app_dir], input=archive, check=True)
        subprocess.run(
            [BIN / "pybabel", "--quiet", "compile", "-d", app_dir / "familyalliance" / "translations"], check=True
        )
        env["PYTHONPATH"] = str(app_dir)  # ahead of the editable install of the working tree
    env["LOAD_APP_DIR"] = str(app_dir)
    probe = "import familyalliance, pathlib; print(pathlib.Path(familyalliance.__file__).parent.parent)"
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=app_dir, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    if Path(found).resolve() != app_dir.resolve():
        raise SystemExit(f"the app would be imported from {found}, not {app_dir}")
    if not ref:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
        ref = f"the working tree, {described.stdout.strip() or 'not a git checkout'}"
    step(f"app under test: {app_dir} ({ref})")

    step(f"database {DATABASE}: drop, create, migrate")
    url = recreate_database(admin_url)
    env["DATABASE_URL"] = url
    migrated = subprocess.run(
        [BIN / "flask", "--app", "familyalliance", "db", "upgrade"],
        cwd=app_dir,
        env=env,
        timeout=300,
        capture_output=True,
        text=True,
    )
    if migrated.returncode:
        raise SystemExit(f"db upgrade failed:\n{migrated.stderr[-3000:]}")
    step("seeding through familyalliance.operations")
    seed_path = run_dir / "seed.json"
    subprocess.run([sys.executable, HERE / "seed.py", seed_path], cwd=app_dir, env=env, check=True, timeout=600)
    seed = json.loads(seed_path.read_text())

    # One pool of workers for everything, or (LOAD_STAFF_WORKERS) a second pool for the staff's pages at
    # a lower CPU priority, as docs/operations.md deploys it behind the proxy: the proxy sends the
    # families' paths (/r/, /round/, /static/) to the first pool and everything else to the second; here each
    # kind of locust user talks to its pool directly.
    pools = [("app" if not staff_workers else "families", workers, "0")]
    if staff_workers:
        pools.append(("staff", staff_workers, staff_nice))
    servers: dict[str, tuple[str, subprocess.Popen, Path, Path]] = {}
    previous_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for name, count, niceness in pools:
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            suffix = "" if name == "app" else f"-{name}"
            access_log, error_log = run_dir / f"gunicorn{suffix}-access.log", run_dir / f"gunicorn{suffix}-error.log"
            command = [
                *PRIORITY.get(niceness, ["nice", "-n", niceness]),
                BIN / "gunicorn",
                "-w",
                str(count),
                "-b",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
                "--access-logfile",
                access_log,
                "--error-logfile",
                error_log,
                "--access-logformat",
                '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)s',
                "familyalliance:create_app()",
            ]
            pool = "" if name == "app" else f" ({name})"
            step(f"gunicorn -w {count}{f', priority {niceness}' if niceness != '0' else ''} on {base}{pool}")
            server = subprocess.Popen(command, cwd=app_dir, env=env, start_new_session=True)
            servers[name] = (base, server, access_log, error_log)
        base = servers["app" if "app" in servers else "families"][0]
        for address, server, _, _ in servers.values():
            wait_healthy(address, server, 90)
        pg_before = cpu_seconds(postgres_processes())
        app_before = cpu_seconds([p for _, server, _, _ in servers.values() for p in server_tree(server)])
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine_before = psutil.cpu_times()
        results_path = run_dir / "results.json"
        locust_env = env | {
            "LOAD_SEED": str(seed_path),
            "LOAD_RESULTS": str(results_path),
            "LOAD_MEMBERS": str(members),
            "LOAD_THERAPIST_USERS": str(therapist_users),
            "LOAD_STAFF_HOST": servers["staff"][0] if staff_workers else "",
        }
        users = members + therapist_users
        step(f"locust: {members} members and {therapist_users} therapists, {run_time}, spawn {spawn_rate}/s")
        seconds = sum(int(n) * {"s": 1, "m": 60, "h": 3600}[u] for n, u in re.findall(r"(\d+)([smh])", run_time))
        started = time.monotonic()
        with (run_dir / "locust.log").open("w") as log:
            locust = subprocess.run(
                [
                    *(["nice", "-n", str(locust_nice)] if locust_nice else []),
                    BIN / "locust",
                    "-f",
                    HERE / "locustfile.py",
                    "--headless",
                    "-u",
                    str(users),
                    "-r",
                    spawn_rate,
                    "--run-time",
                    run_time,
                    "--stop-timeout",
                    stop_timeout,
                    "-H",
                    base,
                    "--csv",
                    run_dir / "locust",
                    "--html",
                    run_dir / "locust.html",
                    "--only-summary",
                ],
                cwd=ROOT,
                env=locust_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=(seconds or 60) + int(stop_timeout) + 120,
            )
        wall = time.monotonic() - started
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine_after = psutil.cpu_times()
        trees = [server_tree(server) for _, server, _, _ in servers.values()]
        app_after = cpu_seconds([p for tree in trees for p in tree])
        rss = [[p.memory_info().rss / 2**20 for p in tree if p.is_running()] for tree in trees]
        pg_after = cpu_seconds(postgres_processes())
        if locust.returncode not in (0, 1):
            errors.append(f"locust exited with {locust.returncode}; see {run_dir / 'locust.log'}")
    finally:
        for _, server, _, _ in servers.values():
            stop_server(server)
        signal.signal(signal.SIGTERM, previous_term)
        step("gunicorn stopped")

    outcome = json.loads(results_path.read_text()) if results_path.exists() else {}
    if not outcome:
        errors.append(f"locust wrote no results; see {run_dir / 'locust.log'}")
    print(f"\nlocust, {wall:.0f} s wall (ramp, {run_time}, stop): client-side milliseconds")
    print(f"{'request':38} {'count':>6} {'fail':>5} {'req/s':>6} {'median':>7} {'p95':>7} {'p99':>7} {'max':>7}")
    for row in [*outcome.get("stats", []), *([outcome["total"] | {"name": "all"}] if outcome else [])]:
        print(
            f"{row['name']:38} {row['requests']:>6} {row['failures']:>5} {row['rps']:6.1f} {row['median']:>7.0f} "
            f"{row['p95']:>7.0f} {row['p99']:>7.0f} {row['max']:>7.0f}"
        )
    together = outcome.get("members_all", {})
    if together.get("requests"):
        print(
            f"{'members, all their requests':38} {together['requests']:>6} {'':>5} {'':>6} {together['median']:>7.0f} "
            f"{together['p95']:>7.0f} {together['p99']:>7.0f} {together['max']:>7.0f}"
        )
    if outcome and outcome["total"]["failures"]:
        errors.append(f"locust saw {outcome['total']['failures']} failed requests")
        for e in outcome["errors"]:
            print(f"  failure: {e['name']}: {e['error'][:300]} x{e['count']}")

    times, statuses = server_times([access_log for _, _, access_log, _ in servers.values()])
    print("\ngunicorn, server-side milliseconds (%(M)s in its access log; a client also waits for a free worker)")
    print(f"{'request':38} {'count':>6} {'median':>7} {'p95':>7} {'max':>7}")
    for name, values in sorted(times.items()):
        print(
            f"{name:38} {len(values):>6} {statistics.median(values):7.0f} {percentile(values, 0.95):7.0f} "
            f"{max(values):7.0f}"
        )
    member_times = [t for name, values in times.items() if "/r/" in name for t in values]
    if member_times:
        print(
            f"{'members, all their requests':38} {len(member_times):>6} {statistics.median(member_times):7.0f} "
            f"{percentile(member_times, 0.95):7.0f} {max(member_times):7.0f}"
        )
    print("status classes: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    if statuses.get("5xx"):
        errors.append(f"{statuses['5xx']} responses with status 5xx; see {run_dir}")
    for _, _, _, error_log in servers.values():
        logged = error_log.read_text(errors="replace")
        problems = [
            line for line in logged.splitlines() if re.search(r"Traceback|\[ERROR\]|\[CRITICAL\]|Exception", line)
        ]
        if problems:
            errors.append(f"gunicorn's error log has {len(problems)} error lines; see {error_log}")
            print("\n".join(problems[:20]))

    locust_cpu = sum(getattr(children_after, f) - getattr(children_before, f) for f in ("ru_utime", "ru_stime"))
    app_cpu = sum(app_after.values()) - sum(app_before.get(pid, 0.0) for pid in app_after)
    pg_cpu = sum(pg_after.values()) - sum(pg_before.get(pid, 0.0) for pid in pg_after)
    cores = os.cpu_count() or 1
    print(f"\nCPU seconds during the locust run ({wall:.0f} s wall x {cores} cores = {wall * cores:.0f} core-seconds):")
    busy = sum(
        getattr(machine_after, f) - getattr(machine_before, f)
        for f in ("user", "nice", "system", "irq", "softirq", "steal")
    )
    other = busy - app_cpu - pg_cpu - locust_cpu
    pool_cpu = [
        sum(app_after.get(p.pid, 0.0) - app_before.get(p.pid, 0.0) for p in tree if p.pid in app_after)
        for tree in trees
    ]
    gunicorns = ", ".join(
        f"{count} {name} workers {cpu:.1f}" for (name, count, _), cpu in zip(pools, pool_cpu, strict=True)
    )
    print(
        f"  gunicorn {app_cpu:.1f} ({gunicorns}; masters included), PostgreSQL {pg_cpu:.1f}, locust {locust_cpu:.1f}, "
        f"anything else {other:.1f}; the machine was busy {busy:.1f} ({busy / (wall * cores):.0%})"
    )

    for (name, _, _), sizes in zip(pools, rss, strict=True):
        if sizes:
            print(
                f"  gunicorn's memory at the end (RSS), {name}: master {sizes[0]:.0f} MiB, workers "
                f"{sum(sizes[1:]):.0f} MiB (largest {max(sizes[1:], default=0):.0f} MiB)"
            )

    results = outcome.get("members", {})
    db_errors, counts = check_database(url, seed, results)
    errors.extend(db_errors)
    print(f"\ndatabase {DATABASE}:")
    for name, value in counts.items():
        print(f"  {name}: {value}")
    outcomes = defaultdict(int)
    for state in results.values():
        outcomes[state] += 1
    print("members' outcomes per link taken: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"links never taken: {len(seed['links']) - len(results)} of {len(seed['links'])}")

    print(f"\nlogs and CSV files: {run_dir}")
    if errors:
        print(f"\nFAILED ({len(errors)}):")
        for e in errors[:50]:
            print(f"  - {e}")
        return 1
    print("\nOK: no failed request, no lost or partial answers, no server error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
