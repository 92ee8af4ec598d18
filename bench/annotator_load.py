"""50 annotators against gunicorn: latency of the editor loop a browser runs, under the deployment's command.

A scratch database gets barbell-row scaled to BENCH_LOAD_FRAMES annotated frames (bench/dataset_pipeline.py's
synthetic copy: new clip ids, points jittered, images referenced in place through symlinks), every frame in
the `uncertain` queue with a random priority (as a score job leaves it), and BENCH_LOAD_USERS annotator
accounts, each signed in (a session row and a CSRF cookie, as after the login form). Then gunicorn runs with
docker-compose's `web` command line (read from docker-compose.yml), bound to 127.0.0.1 only, production
settings (DEBUG off, the HTTPS proxy's X-Forwarded-Proto sent by the clients, Redis cache). Media are files
on disk here (compose keeps them on S3); images are sent by Django, as with no proxy in front.

Each simulated annotator (asyncio + aiohttp, one process) runs what the editor's scripts send
(static/annotations/review/editor/): claim from the queue, then per frame: the editor payload and the frame
image (right after each other, as the page loads them), think, save the points (PATCH with the version and
the queue), think, submit with `next` (the server claims the next frame in the same request). Think times
are uniform in [0.5, 1.5] x BENCH_LOAD_THINK seconds (default 2.5: a frame every ~5 s, faster than the
cheapest loop issue 14 measured, 5 actions to fix a prediction, which the Keystroke-Level Model puts at
about 8 s with 1.1 s a pointing action and 1.35 s of thought before each step). A second run with no think
time measures capacity. Every save's (annotation, version) is checked against the database afterwards:
each must be a revision by that person, and the revision count must equal the saves the clients made.

Prints one JSON object per line: {"metric", "value", "unit"}; the load average beside the figures.

    .venv/bin/python -m webapp.dev bench bench/annotator_load.py
Environment: BENCH_DB (default posereview_bench_load), BENCH_LOAD_USERS (50), BENCH_LOAD_SECONDS (60),
BENCH_LOAD_THINK (2.5), BENCH_LOAD_RUNS ("think,zero"), BENCH_LOAD_FRAMES (6000), BENCH_LOAD_WARMUP (seconds
of unrecorded load first, 10; its saves are checked too), BENCH_LOAD_TIMEOUT
(hard limit of the whole bench, 900 s), BENCH_LOAD_GUNICORN_EXTRA (options added to compose's command, to
compare), DATABASE_URL, CELERY_BROKER_URL (its Redis holds the cache).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scratch_db import scratch_database  # noqa: E402

BENCH_DB = os.environ.get("BENCH_DB", "posereview_bench_load")
USERS = int(os.environ.get("BENCH_LOAD_USERS", 50))
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", 60))
THINK = float(os.environ.get("BENCH_LOAD_THINK", 2.5))
RUNS = [r for r in os.environ.get("BENCH_LOAD_RUNS", "think,zero").split(",") if r]
FRAMES = int(os.environ.get("BENCH_LOAD_FRAMES", 6000))
TIMEOUT = int(os.environ.get("BENCH_LOAD_TIMEOUT", 900))
WARMUP = float(os.environ.get("BENCH_LOAD_WARMUP", 10))
QUEUE = "uncertain"
SLUG = "load"


def compose_gunicorn(port: int) -> list[str]:
    """The gunicorn command line of docker-compose.yml's `web` service, bound to 127.0.0.1:`port` only."""
    import shlex

    import yaml

    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]["command"]
    line = command[-1] if isinstance(command, list) else command
    args = shlex.split(line.split("exec ", 1)[1])  # after migrate and collectstatic
    if os.environ.get("BENCH_LOAD_GUNICORN_EXTRA"):  # e.g. "--threads 4", to compare settings
        args += shlex.split(os.environ["BENCH_LOAD_GUNICORN_EXTRA"])
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    return args


def emit(metric: str, value, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit}), flush=True)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- set-up and checks (Django, in a child process of their own) --------------------------------

def setup_stage(json_path: str, images_dir: str, out: str) -> None:
    """Import the frames, fill the queue, create and sign in the annotators; their cookies go to `out`."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import get_random_string

    from annotations.datasets import importing
    from annotations.models import Membership, Project, Role
    from annotations.review import queues

    project = Project.create(SLUG, "Load", "coco17_spine")
    result = importing.import_coco_file(project, json_path, images_dir=images_dir, form_label="correct")
    emit("frames_imported", result["annotated"], "frames")
    rng = random.Random(0)
    queues.set_priorities(project, QUEUE, {f: rng.random() for f in project.frames.values_list("id", flat=True)})
    people = []
    for n in range(USERS):
        user = User.objects.create_user(f"bench-annotator-{n:03d}")  # no usable password: signed in below
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        people.append({"user": user.username, "session": session.session_key,
                       "csrf": get_random_string(32)})  # an unmasked CSRF secret, as the cookie holds
    Path(out).write_text(json.dumps(people))


def check_stage(saves_path: str) -> None:
    """Every save the clients saw answered 200 is a revision of that person with that version."""
    from annotations.models import Revision

    saves = json.loads(Path(saves_path).read_text())
    rows = Revision.objects.filter(kind="edit", user__username__startswith="bench-annotator-")
    stored = {(a, (after or {}).get("version"), u) for a, after, u in
              rows.values_list("annotation_id", "after", "user__username")}
    matched = sum((s["annotation"], s["version"], s["user"]) in stored for s in saves)
    emit("saves_by_clients", len(saves), "saves")
    emit("revisions_in_database", len(stored), "revisions")
    emit("saves_found_in_database", matched, "saves")
    emit("saves_missing_in_database", len(saves) - matched, "saves")


def django_stage(name: str, *args: str) -> None:
    subprocess.run([sys.executable, __file__, "--stage", name, *args], check=True, cwd=ROOT)


# -- the simulated annotators ---------------------------------------------------------------------

class Recorder:
    def __init__(self):
        self.samples: list[tuple[str, float, int]] = []  # (endpoint, seconds, status)
        self.saves: list[dict] = []
        self.errors: dict[str, int] = {}


async def annotator(http, base: str, person: dict, rec: Recorder, think: float, stop_at: float) -> None:
    import orjson

    headers = {"Cookie": f"sessionid={person['session']}; csrftoken={person['csrf']}",
               "X-CSRFToken": person["csrf"], "Origin": base.replace("http://", "https://"),
               "X-Forwarded-Proto": "https", "Accept": "application/json"}
    api = f"{base}/api/projects/{SLUG}/"
    rng = random.Random(person["user"])

    async def call(endpoint: str, method: str, url: str, body=None):
        t = time.perf_counter()
        kwargs = {"data": orjson.dumps(body), "headers": {**headers, "Content-Type": "application/json"}} \
            if body is not None else {"headers": headers}
        try:
            async with http.request(method, url, **kwargs) as res:
                data = await res.read()
                status = res.status
        except Exception as exc:  # a refused or dropped connection is an error of the run, not of the bench
            rec.errors[f"{endpoint}:{type(exc).__name__}"] = rec.errors.get(f"{endpoint}:{type(exc).__name__}", 0) + 1
            rec.samples.append((endpoint, time.perf_counter() - t, 0))
            return None
        rec.samples.append((endpoint, time.perf_counter() - t, status))
        if status >= 400:
            key = f"{endpoint}:{status}"
            rec.errors[key] = rec.errors.get(key, 0) + 1
            return None
        return orjson.loads(data) if endpoint != "image" else data

    async def pause():
        if think > 0:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)

    if think > 0:
        await asyncio.sleep(rng.uniform(0, think))  # people do not all start on the same second
    claimed = await call("claim", "POST", f"{api}queues/{QUEUE}/claim/", {})
    item = claimed and claimed["item"]
    while item and time.monotonic() < stop_at:
        frame_id = item["frame"]
        payload = await call("editor", "GET", f"{api}frames/{frame_id}/editor/")
        if payload is None:
            break
        if await call("image", "GET", base + payload["frame"]["image_url"]) is None:
            break
        await pause()
        ann = payload["annotation"]
        kpts = list(ann["keypoints"])
        for i in range(0, len(kpts), 3):  # the person drags a few points by a pixel or two
            if kpts[i + 2] > 0 and rng.random() < 0.2:
                kpts[i] = round(kpts[i] + rng.uniform(-2, 2), 2)
        states = ["verified" if kpts[3 * i + 2] > 0 else s for i, s in enumerate(ann["keypoint_states"])]
        saved = await call("save", "PATCH", f"{api}annotations/{ann['id']}/",
                           {"keypoints": kpts, "keypoint_states": states, "form_label": ann["form_label"],
                            "version": ann["version"], "queue": QUEUE})
        if saved is None:
            break
        rec.saves.append({"annotation": saved["id"], "version": saved["version"], "user": person["user"]})
        await pause()
        done = await call("submit", "POST", f"{api}frames/{frame_id}/submit/", {"queue": QUEUE, "next": True})
        if done is None:
            break
        item = done["next"]


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.asarray(values) * 1000
    return {f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 95, 99)}


class ServerCpu:
    """CPU seconds of gunicorn's processes and of the PostgreSQL backends serving `db`, sampled twice a
    second on a thread: Django closes a connection after CONN_MAX_AGE (60 s) and its backend exits with
    its CPU time, so the last sample of each backend is what it used."""

    def __init__(self, gunicorn_pid: int, db: str):
        import threading

        self.pid, self.db = gunicorn_pid, db
        self.seen: dict[tuple[str, int, float], float] = {}  # (kind, pid, start time) -> last CPU seconds
        self.stopped = threading.Event()
        self.sample()
        self.start = self.totals()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        import psutil

        procs = []
        try:
            master = psutil.Process(self.pid)
            procs += [("web", p) for p in [master, *master.children(recursive=True)]]
        except psutil.Error:
            pass
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if cmd.startswith("postgres:") and f" {self.db} " in cmd:
                procs.append(("database", p))
        for kind, p in procs:
            try:
                t = p.cpu_times()
                self.seen[(kind, p.pid, p.create_time())] = t.user + t.system
            except psutil.Error:
                pass

    def totals(self) -> dict[str, float]:
        out = {"web": 0.0, "database": 0.0}
        for (kind, _, _), cpu in self.seen.items():
            out[kind] += cpu
        return out

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.sample()

    def used(self) -> dict[str, float]:
        """CPU seconds since this sampler started, per kind."""
        self.stopped.set()
        self.thread.join()
        self.sample()
        end = self.totals()
        return {k: end[k] - self.start[k] for k in end}


async def load_run(base: str, people: list[dict], think: float, gunicorn_pid: int, db: str,
                   seconds: float = SECONDS, label: str | None = None) -> Recorder:
    import aiohttp

    rec = Recorder()
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        server = ServerCpu(gunicorn_pid, db)
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        stop_at = t0 + seconds
        await asyncio.gather(*(annotator(http, base, p, rec, think, stop_at) for p in people))
        elapsed = time.monotonic() - t0
        cpu1, used = resource.getrusage(resource.RUSAGE_SELF), server.used()
    label = label or ("think" if think > 0 else "zero_think")
    if label == "warmup":
        emit("warmup_requests", len(rec.samples), "requests")
        emit("warmup_errors", sum(rec.errors.values()), "requests")
        if rec.errors:
            emit("warmup_errors_by_kind", rec.errors, "requests")
        return rec
    n = len(rec.samples)
    emit(f"{label}_think_time_mean_s", think, "s")
    emit(f"{label}_annotators", len(people), "annotators")
    emit(f"{label}_duration_s", round(elapsed, 1), "s")
    emit(f"{label}_requests", n, "requests")
    emit(f"{label}_requests_per_s", round(n / elapsed, 1), "requests/s")
    emit(f"{label}_errors", sum(rec.errors.values()), "requests")
    if rec.errors:
        emit(f"{label}_errors_by_kind", rec.errors, "requests")
    for endpoint in ("claim", "editor", "image", "save", "submit"):
        times = [s for e, s, _ in rec.samples if e == endpoint]
        if times:
            for name, value in percentiles(times).items():
                emit(f"{label}_{endpoint}_{name}_ms", value, "ms")
            emit(f"{label}_{endpoint}_count", len(times), "requests")
    if n:
        for name, value in percentiles([s for _, s, _ in rec.samples]).items():
            emit(f"{label}_all_{name}_ms", value, "ms")
        web, database = used["web"], used["database"]
        emit(f"{label}_server_cpu_ms_per_request", round((web + database) / n * 1000, 1), "ms")
        emit(f"{label}_gunicorn_cpu_ms_per_request", round(web / n * 1000, 1), "ms")
        emit(f"{label}_postgres_cpu_ms_per_request", round(database / n * 1000, 1), "ms")
    # The process's CPU: the clients and the CPU sampler's thread (a few ms a sample).
    client_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    emit(f"{label}_client_cpu_s", round(client_cpu, 2), "s")
    emit(f"{label}_client_cpu_share_of_one_core", round(client_cpu / elapsed, 3), "fraction")
    emit(f"{label}_frames_submitted", sum(1 for e, _, st in rec.samples if e == "submit" and st == 200), "frames")
    emit(f"{label}_load_average_after", load_average(), "1/5/15 min")
    return rec


def wait_healthy(base: str, proc: subprocess.Popen, limit: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def stop(proc: subprocess.Popen | None) -> None:
    """End gunicorn and its workers (its own process group), waiting for them."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


class Overrun(Exception):
    pass


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--stage":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
        import django

        django.setup()
        {"setup": setup_stage, "check": check_stage}[sys.argv[2]](*sys.argv[3:])
        return

    def overrun(*_):
        raise Overrun(f"the bench ran past its limit of {TIMEOUT} s (BENCH_LOAD_TIMEOUT)")

    signal.signal(signal.SIGALRM, overrun)
    signal.alarm(TIMEOUT)
    emit("load_average_before", load_average(), "1/5/15 min")
    os.environ["POSEREVIEW_DEV"] = "1"  # set-up and checks only; gunicorn runs with production settings
    url = scratch_database(BENCH_DB)
    os.environ["DATABASE_URL"] = url
    # One key for the set-up (which signs the sessions) and the server (which checks them).
    os.environ["SECRET_KEY"] = "bench-" + os.urandom(16).hex()
    from dataset_pipeline import build_synthetic

    proc = None
    log = None
    try:
        with tempfile.TemporaryDirectory(prefix="posereview-load-") as tmp:
            tmpdir = Path(tmp)
            path, images_dir = build_synthetic(FRAMES, tmpdir)
            people_file = tmpdir / "people.json"
            django_stage("setup", str(path), str(images_dir), str(people_file))
            people = json.loads(people_file.read_text())
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
            env = {k: v for k, v in os.environ.items() if k not in ("POSEREVIEW_DEV", "DEBUG")}
            env.update(DATABASE_URL=url, ALLOWED_HOSTS="127.0.0.1",
                       CELERY_BROKER_URL=broker, POSEREVIEW_CACHE_URL=broker,
                       MEDIA_ROOT=str(tmpdir / "media"), STATIC_ROOT=str(tmpdir / "static"))
            log = open(tmpdir / "gunicorn.log", "w")
            args = compose_gunicorn(port)
            cmd = [str(Path(sys.executable).parent / args[0]), *args[1:]]
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            wait_healthy(base, proc)
            emit("gunicorn_command", " ".join(args), "command")
            # A server that has run for a while: every worker has imported its modules and opened its
            # database connection before the clock starts (a fresh worker's first request costs ~1 s).
            warm = asyncio.run(load_run(base, people, 0.0, proc.pid, BENCH_DB, WARMUP, "warmup"))
            saves = warm.saves
            server_errors = sum(n for kind, n in warm.errors.items() if kind.split(":")[-1].startswith("5"))
            for run in RUNS:
                rec = asyncio.run(load_run(base, people, THINK if run == "think" else 0.0, proc.pid, BENCH_DB))
                saves += rec.saves
                server_errors += sum(n for kind, n in rec.errors.items() if kind.split(":")[-1].startswith("5"))
            stop(proc)
            log.flush()
            if server_errors:  # what the server said about them (the log goes with the temporary folder)
                text = (tmpdir / "gunicorn.log").read_text(errors="replace").splitlines()
                shown = [i for i, line in enumerate(text) if "Traceback" in line or "Error" in line]
                for i in shown[:5]:
                    print("\n".join(text[i:i + 40]), file=sys.stderr)
            saves_file = tmpdir / "saves.json"
            saves_file.write_text(json.dumps(saves))
            django_stage("check", str(saves_file))
    finally:
        signal.alarm(0)
        stop(proc)
        if log is not None:
            log.close()


if __name__ == "__main__":
    main()
