"""A fresh, migrated scratch database for a benchmark (a helper the bench scripts import; prints nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def scratch_database(name: str) -> str:
    """Drop and re-create database `name` next to the configured one (DATABASE_URL), migrate it, return its URL."""
    import dj_database_url
    import psycopg

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/posereview")
    cfg = dj_database_url.parse(base)
    conninfo = dict(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], password=cfg["PASSWORD"] or None,
                    dbname="postgres")
    with psycopg.connect(autocommit=True, **{k: v for k, v in conninfo.items() if v}) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    url = base.rsplit("/", 1)[0] + "/" + name
    env = {**os.environ, "DATABASE_URL": url, "POSEREVIEW_DEV": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    return url


def django_on_scratch_database(name: str, **env: str) -> str:
    """scratch_database(name), then Django set up on it in this process (development settings, `env` set
    first: MEDIA_ROOT, a crop store, ...). Returns the database's URL."""
    os.environ["POSEREVIEW_DEV"] = "1"
    url = os.environ["DATABASE_URL"] = scratch_database(name)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    return url
