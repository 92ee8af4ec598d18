"""The docker-compose deployment names real things: services with health checks and volumes,
commands whose modules, apps and options exist, environment variables that settings.py reads,
and an image that installs requirements.txt. No Docker engine runs here; the files are read."""

from __future__ import annotations

import ast
import fnmatch
import importlib
import os
import re
import secrets
import shlex
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

APP_SERVICES = ("web", "worker", "worker-ml", "beat")
SERVICES = ("postgres", "redis", "s3", *APP_SERVICES)
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def settings_env_vars() -> set[str]:
    """Names of the environment variables webapp/settings.py reads (os.environ.get/[], getenv, env_bool)."""
    tree = ast.parse((ROOT / "webapp" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.environ.get", "os.getenv", "env_bool", "os.environ.setdefault"):
                names.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            if isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    return names


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against `env`; $$ is a literal $."""
    def sub(match):
        name, op, arg = match["name"], match["op"], match["arg"]
        value = env.get(name)
        if op in (":-", "-"):
            return value if value else arg
        if op in (":?", "?"):
            if not value:
                raise AssertionError(f"{name} must be set: {arg}")
            return value
        return value or ""
    return INTERPOLATION.sub(sub, text).replace("$$", "$")


def interpolation_names(text: str) -> set[str]:
    return {m["name"] for m in INTERPOLATION.finditer(text.replace("$$", ""))}


def command_words(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def shell_script(service: dict) -> str:
    words = command_words(service)
    if words[:2] == ["sh", "-c"]:
        return words[2]
    return shlex.join(words)


def healthcheck_text(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


# -- services, health checks, volumes -------------------------------------------------------------

def test_it_declares_every_service_of_the_deployment(compose):
    assert set(compose["services"]) == set(SERVICES)
    assert compose["services"]["postgres"]["image"].split(":")[1].split(".")[0] == "16"
    assert compose["services"]["redis"]["image"].split(":")[1].split(".")[0] == "7"
    assert compose["services"]["s3"]["image"].startswith("chrislusf/seaweedfs:")
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["build"] == "." and service["env_file"] == ".env", name
        assert service["restart"] == "unless-stopped", name


def test_it_gives_the_data_services_real_health_checks(compose):
    services = compose["services"]
    postgres = healthcheck_text(services["postgres"])
    assert "pg_isready" in postgres
    for var in interpolation_names(postgres.replace("$${", "${")):  # container-side variables
        assert var in services["postgres"]["environment"], var
    assert services["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]
    assert "http://127.0.0.1:8333/healthz" in healthcheck_text(services["s3"])
    assert "http://127.0.0.1:8000/healthz" in healthcheck_text(services["web"])
    for name in ("worker", "worker-ml"):
        assert "inspect ping" in healthcheck_text(services[name])


def test_it_starts_services_only_after_their_dependencies_are_healthy(compose):
    services = compose["services"]
    for name in APP_SERVICES:
        depends = services[name]["depends_on"]
        assert "redis" in depends, name
        for dependency, rule in depends.items():
            assert rule == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in services[dependency], f"{name} waits for {dependency}, which has no health check"
    assert {"postgres", "redis", "s3"} <= set(services["web"]["depends_on"])
    for name in ("worker", "worker-ml"):  # jobs need the schema, which web migrates before it is healthy
        assert {"postgres", "redis", "s3", "web"} <= set(services[name]["depends_on"])


def test_it_keeps_data_in_named_volumes_and_shares_media_through_the_object_store(compose, env_example):
    volumes = set(compose["volumes"])
    assert {"pgdata", "redisdata", "s3data", "cache"} <= volumes
    services = compose["services"]
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]
    assert "--appendonly" in services["redis"]["command"]
    s3 = shlex.split(interpolate(services["s3"]["command"][0], env_example))
    weed = s3[s3.index("weed"):]
    assert weed[:2] == ["weed", "server"] and "-s3" in weed and "-s3.port=8333" in weed
    assert "s3data:" + next(w.split("=", 1)[1] for w in weed if w.startswith("-dir=")) in services["s3"]["volumes"]
    # The gateway accepts exactly the key pair the app signs with (both read from .env).
    assert "$POSEREVIEW_S3_ACCESS_KEY" in s3 and "$POSEREVIEW_S3_SECRET_KEY" in s3
    for name in ("web", "worker", "worker-ml"):
        environment = {k: interpolate(v, env_example) for k, v in services[name]["environment"].items()}
        # no media volume: frames, uploads, exports and models go through the S3 gateway, so any host can run it
        assert "MEDIA_ROOT" not in environment and not any("/data/media" in v for v in services[name]["volumes"])
        endpoint = re.fullmatch(r"http://(?P<host>[\w-]+):(?P<port>\d+)", environment["POSEREVIEW_S3_ENDPOINT_URL"])
        assert endpoint and endpoint["host"] == "s3" and endpoint["port"] == "8333", name
        assert f"cache:{environment['POSEREVIEW_MEDIA_CACHE']}" in services[name]["volumes"], name
        # imports by server path read the same folder wherever the job runs
        mounts = [interpolate(v, env_example) for v in services[name]["volumes"]]
        roots = services[name]["environment"]["POSEREVIEW_IMPORT_ROOTS"].split(",")
        assert all(any(m.split(":")[1] == r for m in mounts) for r in roots), name
    for service in services.values():
        for mount in service.get("volumes", []):
            source = interpolate(mount, env_example).split(":")[0]
            assert source.startswith((".", "/")) or source in volumes, f"undeclared volume {source}"


# -- commands name real modules, apps and options -------------------------------------------------

def test_it_serves_the_wsgi_application_that_gunicorn_is_told_to_load(compose):
    from gunicorn.config import KNOWN_SETTINGS

    script = shell_script(compose["services"]["web"])
    steps = [shlex.split(step.strip()) for step in script.split("&&")]
    assert steps[0][:3] == ["python", "manage.py", "migrate"]
    assert steps[1][:3] == ["python", "manage.py", "collectstatic"]
    gunicorn = steps[-1][1:] if steps[-1][0] == "exec" else steps[-1]
    assert gunicorn[0] == "gunicorn"
    targets = [w for w in gunicorn[1:] if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", w)]
    assert targets == ["webapp.wsgi:application"]
    module, attribute = targets[0].split(":")
    application = getattr(importlib.import_module(module), attribute)
    assert callable(application)
    known = {flag for setting in KNOWN_SETTINGS for flag in (setting.cli or [])}
    flags = [w for w in gunicorn[1:] if w.startswith("-") and w != "-"]  # a lone "-" is stdout
    assert flags and set(flags) <= known, set(flags) - known
    bind = gunicorn[gunicorn.index("--bind") + 1]
    assert bind.endswith(":8000")
    assert any(p.endswith(":8000") for p in compose["services"]["web"]["ports"])


def test_it_runs_manage_py_commands_that_exist(compose):
    from django.core.management import get_commands

    script = shell_script(compose["services"]["web"])
    used = re.findall(r"manage\.py (\w+)", script)
    assert used == ["migrate", "collectstatic"]
    assert set(used) <= set(get_commands())
    assert (ROOT / "manage.py").is_file()


def test_it_points_every_celery_command_at_the_real_app_and_real_options(compose):
    from celery import Celery
    from celery.app.utils import find_app
    from celery.bin.celery import celery as celery_cli

    from webapp.celery import app as webapp_celery

    top_options = {o for p in celery_cli.params for o in p.opts}
    kinds = {}
    for name in ("worker", "worker-ml", "beat"):
        words = command_words(compose["services"][name])
        assert words[0] == "celery", name
        app_name = words[words.index("-A") + 1]
        found = find_app(app_name)
        assert isinstance(found, Celery) and found is webapp_celery, name
        sub = next(w for w in words[1:] if w in celery_cli.commands)
        kinds[name] = sub
        options = top_options | {o for p in celery_cli.commands[sub].params for o in p.opts}
        flags = [w for w in words[1:] if w.startswith("-")]
        assert set(flags) <= options, (name, set(flags) - options)
    assert kinds == {"worker": "worker", "worker-ml": "worker", "beat": "beat"}
    for name in ("worker", "worker-ml"):
        probe = shlex.split(healthcheck_text(compose["services"][name]).split("CMD-SHELL", 1)[-1])
        assert probe[:5] == ["celery", "-A", "webapp", "inspect", "ping"]


def test_it_has_a_worker_for_every_queue_tasks_are_routed_to(compose, settings):
    import annotations.tasks  # noqa: F401  (registers the tasks)
    from webapp.celery import app

    consumed = {}
    for name in ("worker", "worker-ml"):
        words = command_words(compose["services"][name])
        consumed[name] = set(words[words.index("-Q") + 1].split(","))
    assert consumed == {"worker": {"default"}, "worker-ml": {"ml"}}
    from annotations.core.jobs import REGISTRY, TASK_NAME, broker_queue

    routed = {broker_queue(spec.queue) for spec in REGISTRY.values()}
    assert routed == set().union(*consumed.values())
    assert TASK_NAME in app.tasks


# -- environment ---------------------------------------------------------------------------------

def test_it_sets_only_environment_variables_that_settings_reads(compose):
    read = settings_env_vars()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"} <= read
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert isinstance(environment, dict), name
        assert set(environment) <= read, (name, set(environment) - read)


def test_it_documents_every_variable_in_the_env_example(compose, env_example):
    read = settings_env_vars()
    compose_vars = interpolation_names((ROOT / "docker-compose.yml").read_text())
    assert set(env_example) <= read | compose_vars, set(env_example) - read - compose_vars
    assert compose_vars <= set(env_example), compose_vars - set(env_example)
    assert "SECRET_KEY" in env_example and env_example["SECRET_KEY"]


def test_it_builds_urls_that_reach_the_compose_services(compose, env_example):
    import dj_database_url

    environment = {k: interpolate(v, env_example) for k, v in compose["services"]["web"]["environment"].items()}
    database = dj_database_url.parse(environment["DATABASE_URL"])
    assert database["ENGINE"].endswith("postgresql")
    assert (database["HOST"], database["PORT"]) == ("postgres", 5432)
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        env_example["POSTGRES_DB"], env_example["POSTGRES_USER"], env_example["POSTGRES_PASSWORD"])
    broker = re.fullmatch(r"redis://(?P<host>[\w-]+):(?P<port>\d+)/\d+", environment["CELERY_BROKER_URL"])
    assert broker and broker["host"] in compose["services"] and broker["port"] == "6379"
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        interpolate(compose["services"]["web"]["environment"]["DATABASE_URL"], {})


def test_it_answers_the_web_health_check_under_the_deployed_hosts(compose, env_example, settings, client):
    allowed = interpolate(compose["services"]["web"]["environment"]["ALLOWED_HOSTS"], env_example)
    settings.ALLOWED_HOSTS = [h.strip() for h in allowed.split(",") if h.strip()]
    settings.DEBUG = False
    assert env_example["ALLOWED_HOSTS"] in settings.ALLOWED_HOSTS
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200 and response.content == b"ok"
    assert client.get("/healthz", HTTP_HOST="evil.example.com").status_code == 400


def production_environment(compose: dict, env_example: dict[str, str]) -> dict[str, str]:
    """The web container's environment: .env (as .env.example has it, with the long random SECRET_KEY it
    asks for) under the compose file's `environment`; none of this machine's settings variables."""
    read = settings_env_vars()
    env = {k: v for k, v in os.environ.items() if k not in read and not k.startswith(("POSEREVIEW_", "DJANGO_"))}
    env.update(env_example)
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    env.update({k: interpolate(str(v), env_example) for k, v in compose["services"]["web"]["environment"].items()})
    return env


def test_it_passes_the_deploy_check_under_the_production_environment(compose, env_example):
    env = production_environment(compose, env_example)
    assert env["DEBUG"] == "0" and "POSEREVIEW_DEV" not in env
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr


def test_it_redirects_plain_http_in_production_but_answers_the_health_check(settings, client):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/accounts/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200  # compose's health check speaks http to gunicorn
    secure = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200 and "max-age=31536000" in secure["Strict-Transport-Security"]


def test_it_keeps_the_dev_runner_and_tests_on_plain_http():
    from django.conf import settings

    assert not settings.SECURE_SSL_REDIRECT and not settings.SESSION_COOKIE_SECURE and not settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS == 0


# -- the image -----------------------------------------------------------------------------------

def test_it_builds_an_image_that_installs_requirements_txt():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.strip() for line in re.sub(r"\\\n", " ", text).splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    copies = [i.split() for i in instructions if i.startswith("COPY") and "requirements.txt" in i]
    assert copies, "the Dockerfile does not copy requirements.txt"
    target = copies[0][-1]
    installed = target if target.endswith("requirements.txt") else target.rstrip("/") + "/requirements.txt"
    pip = [i for i in instructions if i.startswith("RUN") and "pip install" in i]
    assert any(re.search(rf"-r\s+{re.escape(installed)}(\s|$)", i) for i in pip), pip
    requirements = (ROOT / "requirements.txt").read_text()
    if re.search(r"^torch==[^\s]+\+cpu", requirements, re.M):
        assert any("download.pytorch.org/whl/cpu" in i for i in pip), "+cpu torch needs PyTorch's index"
    # the image runs the Python the pinned requirements were resolved with
    bases = re.findall(r"^FROM\s+python:(\d+\.\d+)", text, re.M)
    assert bases and set(bases) == {f"{sys.version_info[0]}.{sys.version_info[1]}"}
    users = [i.split()[1] for i in instructions if i.startswith("USER")]
    assert users and users[-1] not in ("root", "0")
    assert any(i.startswith("EXPOSE") and "8000" in i.split() for i in instructions)


def test_it_keeps_secrets_and_local_state_out_of_the_build_context():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            pattern = pattern.lstrip("!")
            if fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.replace("**/", "")) or (
                    path.startswith(pattern.rstrip("/") + "/")):
                result = not negate
        return result

    for path in (".env", ".env.production", ".venv/bin/python", "var/media/frames/a.jpg", ".git/HEAD",
                 "node_modules/x/index.js"):
        assert ignored(path), path
    for path in ("requirements.txt", "manage.py", "webapp/settings.py", "annotations/api.py",
                 "static/annotations/common/site.css", "templates/base.html", "mlcore/__init__.py", ".env.example"):
        assert not ignored(path), path
