"""PoseReview settings, read from the environment.

DATABASE_URL      postgres://user:pass@host:5432/db (required: PostgreSQL only)
CELERY_BROKER_URL redis://host:6379/0
MEDIA_ROOT        where uploaded and copied files live (unless POSEREVIEW_S3_ENDPOINT_URL names an object store)
SECRET_KEY, DEBUG, ALLOWED_HOSTS (comma-separated)
"""

import hashlib
import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ("insecure-dev-key" if DEBUG or os.environ.get("POSEREVIEW_DEV") else None)
if not SECRET_KEY:
    # A production deployment must set its own key; the dev runner and tests set POSEREVIEW_DEV.
    raise RuntimeError("SECRET_KEY is not set (set POSEREVIEW_DEV=1 for a local development run)")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
                 if h.strip()]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

# -- HTTPS --------------------------------------------------------------------------------------
# A deployment (DEBUG off, outside the dev runner and the tests, which set POSEREVIEW_DEV and speak plain
# http) is HTTPS only, behind a TLS-terminating proxy that sets X-Forwarded-Proto; `manage.py check
# --deploy` passes with these defaults. Each can be changed from the environment (e.g. SECURE_HSTS_SECONDS=0
# while trying a new host name; SECURE_PROXY_SSL_HEADER=0 when gunicorn itself terminates TLS).
HTTPS_ONLY = not DEBUG and not os.environ.get("POSEREVIEW_DEV")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS_ONLY)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the container health check asks gunicorn over http
SECURE_PROXY_SSL_HEADER = (("HTTP_X_FORWARDED_PROTO", "https") if env_bool("SECURE_PROXY_SSL_HEADER", HTTPS_ONLY)
                           else None)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if HTTPS_ONLY else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS_ONLY)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS_ONLY)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", HTTPS_ONLY)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", HTTPS_ONLY)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy of every response (annotations/core/middleware.py): scripts and styles are files
# from this origin; frames, thumbnails and charts are images (data:/blob: for drawn ones); no framing.
POSEREVIEW_CSP = os.environ.get("POSEREVIEW_CSP") or "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "media-src 'self' blob:", "font-src 'self'", "connect-src 'self'", "worker-src 'self'", "object-src 'none'",
    "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'",
])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "annotations.core.middleware.ContentSecurityPolicyMiddleware",
    # Serves collected static files in production (gunicorn has no static file handling).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "annotations.core.middleware.LoginRequiredMiddleware",
    # A password a PI set must be replaced first: pages redirect to the change-password page.
    "annotations.core.passwords.PasswordChangeRequiredMiddleware",
]

ROOT_URLCONF = "webapp.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "webapp.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/posereview")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
# A second connection to the same database, in autocommit, so a job's progress is visible to
# others while its own work is still inside one open transaction. In tests it mirrors default.
DATABASES["jobstate"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
# One test database per checkout, so two checkouts' test runs on one server never collide.
DATABASES["default"]["TEST"] = {
    "NAME": f"test_{DATABASES['default']['NAME']}_{hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]}"}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("PoseReview runs on PostgreSQL only; DATABASE_URL must be a postgres:// URL")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "staticfiles"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Media (frames, thumbnails, uploads, exports, model files) on an S3-compatible object store (AWS S3,
# SeaweedFS, MinIO) when an endpoint is named; otherwise the local file system under MEDIA_ROOT.
POSEREVIEW_S3_ENDPOINT_URL = os.environ.get("POSEREVIEW_S3_ENDPOINT_URL", "")


def s3_storage_options(endpoint_url: str, bucket: str, access_key: str, secret_key: str,
                       region: str = "us-east-1", location: str = "") -> dict:
    """django-storages S3Storage options: path-style addressing (SeaweedFS, MinIO), private objects,
    names under `location` (a folder of the bucket; empty: its top)."""
    return {"endpoint_url": endpoint_url, "bucket_name": bucket, "location": location, "access_key": access_key,
            "secret_key": secret_key, "region_name": region, "addressing_style": "path",
            "signature_version": "s3v4", "default_acl": None, "querystring_auth": True,
            "file_overwrite": False}


if POSEREVIEW_S3_ENDPOINT_URL:
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_storage_options(
        POSEREVIEW_S3_ENDPOINT_URL, os.environ.get("POSEREVIEW_S3_BUCKET", "posereview-media"),
        os.environ.get("POSEREVIEW_S3_ACCESS_KEY", ""), os.environ.get("POSEREVIEW_S3_SECRET_KEY", ""),
        os.environ.get("POSEREVIEW_S3_REGION", "us-east-1"), os.environ.get("POSEREVIEW_S3_LOCATION", ""))}
# Who sends a frame's or thumbnail's bytes once the view has checked the caller may see them
# (annotations/core/serving.py): "django" (the web process), "x-accel-redirect" (nginx in front serves
# POSEREVIEW_MEDIA_ACCEL_PREFIX + the file's absolute path from an `internal` location) or "x-sendfile"
# (Apache mod_xsendfile, lighttpd). Objects on the S3 store: streamed, or with POSEREVIEW_MEDIA_PRESIGNED a
# redirect to a presigned URL, signed for POSEREVIEW_S3_PUBLIC_URL (the store's address as browsers reach
# it) when that differs from POSEREVIEW_S3_ENDPOINT_URL. Browsers may keep an image POSEREVIEW_MEDIA_MAX_AGE s.
POSEREVIEW_MEDIA_SERVING = os.environ.get("POSEREVIEW_MEDIA_SERVING", "django").strip().lower()
if POSEREVIEW_MEDIA_SERVING not in ("django", "x-accel-redirect", "x-sendfile"):
    raise RuntimeError("POSEREVIEW_MEDIA_SERVING must be django, x-accel-redirect or x-sendfile, not "
                       f"{POSEREVIEW_MEDIA_SERVING!r}")
POSEREVIEW_MEDIA_ACCEL_PREFIX = os.environ.get("POSEREVIEW_MEDIA_ACCEL_PREFIX", "/_protected_media")
POSEREVIEW_MEDIA_MAX_AGE = int(os.environ.get("POSEREVIEW_MEDIA_MAX_AGE", 3600))
POSEREVIEW_MEDIA_PRESIGNED = env_bool("POSEREVIEW_MEDIA_PRESIGNED", False)
POSEREVIEW_MEDIA_PRESIGNED_SECONDS = int(os.environ.get("POSEREVIEW_MEDIA_PRESIGNED_SECONDS", 600))
POSEREVIEW_S3_PUBLIC_URL = os.environ.get("POSEREVIEW_S3_PUBLIC_URL", "")
if POSEREVIEW_MEDIA_PRESIGNED and POSEREVIEW_S3_ENDPOINT_URL and not os.environ.get("POSEREVIEW_CSP"):
    # The editor's <img> follows the redirect to the store: its origin must be an allowed image source.
    _store = (POSEREVIEW_S3_PUBLIC_URL or POSEREVIEW_S3_ENDPOINT_URL).rstrip("/")
    _origin = "/".join(_store.split("/")[:3])
    POSEREVIEW_CSP = POSEREVIEW_CSP.replace("img-src 'self' data: blob:", f"img-src 'self' data: blob: {_origin}")
# Images an import references in place stay on the importing host's disk. "auto": allowed while media are
# on the local disk, refused while they are on an object store (workers elsewhere could not read them; copy
# the images in instead). "shared": allowed everywhere, for labs that mount the import folders at the same
# path on every worker.
POSEREVIEW_IN_PLACE_IMPORTS = os.environ.get("POSEREVIEW_IN_PLACE_IMPORTS", "auto").strip().lower()
if POSEREVIEW_IN_PLACE_IMPORTS not in ("auto", "shared"):
    raise RuntimeError(f"POSEREVIEW_IN_PLACE_IMPORTS must be auto or shared, not {POSEREVIEW_IN_PLACE_IMPORTS!r}")
# Where workers keep local copies of media they need as files (mlcore, video decoding); empty: a temp folder.
POSEREVIEW_MEDIA_CACHE = os.environ.get("POSEREVIEW_MEDIA_CACHE", "")
# Model directories built from stored model files (annotations/learning/artifacts.py); default: models/ in the
# media cache when one is named, else a temp folder.
POSEREVIEW_MODEL_CACHE = os.environ.get("POSEREVIEW_MODEL_CACHE") or (
    os.path.join(POSEREVIEW_MEDIA_CACHE, "models") if POSEREVIEW_MEDIA_CACHE else "")

# Uploads: large CVAT zips stream to disk; the import job enforces its own limits.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
POSEREVIEW_MAX_UPLOAD_BYTES = int(os.environ.get("POSEREVIEW_MAX_UPLOAD_BYTES", 2 * 1024**3))
# Server folders that imports may read images from (comma-separated); empty means any readable folder
# for PI/admin users. Deployments should set this.
POSEREVIEW_IMPORT_ROOTS = [p for p in os.environ.get("POSEREVIEW_IMPORT_ROOTS", "").split(",") if p]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotations.core.tokens.ExpiringTokenAuthentication",
        # Session auth that answers 403 while the person's password is one a PI set.
        "annotations.core.passwords.SessionAuthenticationWithOwnPassword",
    ],
    # Scoped limits (annotations/core/throttling.py): the token endpoint per client address, uploads per user.
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("POSEREVIEW_AUTH_RATE", "30/min"),
        "uploads": os.environ.get("POSEREVIEW_UPLOAD_RATE", "300/hour"),
    },
    # How many proxies in front of the app append to X-Forwarded-For (0: the header is ignored, so a client
    # cannot name its own address to escape the sign-in lockout; 1 behind one TLS-terminating proxy).
    "NUM_PROXIES": int(os.environ.get("POSEREVIEW_NUM_PROXIES", 0)),
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON bodies are bounded in size (DATA_UPLOAD_MAX_MEMORY_SIZE, 413) and depth (400); uploads stay multipart.
    "DEFAULT_PARSER_CLASSES": [
        "annotations.core.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "annotations.core.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The OpenAPI 3 description of the REST API (drf-spectacular): /api/schema/ (YAML, or JSON with
# ?format=json), Swagger UI at /api/docs/ and Redoc at /api/redoc/. Their scripts and styles are served
# from our own static files (drf-spectacular-sidecar), so the pages work offline and under the CSP (Redoc's page
# also allows inline styles and blob: workers: annotations/core/docs.py).
# The schema describes the code, not anyone's data, so it is readable without signing in (client
# generators and schemathesis fetch it as is); every operation it lists still needs a token or a session.
SPECTACULAR_SETTINGS = {
    "TITLE": "PoseReview API",
    "VERSION": "1.0",
    "DESCRIPTION": (
        "REST API of PoseReview: projects, frames and their images, annotations and revisions, review "
        "queues, dataset jobs (import, merge, split, export), videos, the active-learning loop and the "
        "dashboards. Authenticate with `Authorization: Token <key>` (POST /api/auth/token/ issues the key). "
        "Bad input is a 400 whose `detail` names the field; lists take `limit` (at most 500) and `offset`."),
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/",
    "ENUM_NAME_OVERRIDES": {"LabelCheckKindEnum": "annotations.quality.checks.KINDS"},
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")

CELERY_RESULT_BACKEND = None  # job state lives on the Job row, not in a result backend
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# The broker queue of training and inference jobs (annotations/core/jobs.py picks a job's queue from
# its registered kind); GPU workers listen on it.
POSEREVIEW_ML_QUEUE = os.environ.get("POSEREVIEW_ML_QUEUE", "ml")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery beat: look for projects with enough newly verified frames to retrain (see
# annotations/learning/triggers.py); the retrain itself goes to the ml queue.
POSEREVIEW_AUTO_RETRAIN_CHECK_SECONDS = float(os.environ.get("POSEREVIEW_AUTO_RETRAIN_CHECK_SECONDS", 300))
CELERY_BEAT_SCHEDULE = {
    "auto-retrain-check": {"task": "annotations.tasks.check_auto_retrain",
                           "schedule": POSEREVIEW_AUTO_RETRAIN_CHECK_SECONDS},
    "reap-stale-jobs": {"task": "annotations.tasks.reap_stale_jobs",
                        "schedule": float(os.environ.get("POSEREVIEW_REAP_CHECK_SECONDS", 60))},
}
# Jobs that always end (annotations/core/jobs.py): a running job's worker writes its heartbeat every
# POSEREVIEW_JOB_HEARTBEAT_SECONDS; after POSEREVIEW_JOB_STALE_SECONDS without one the beat task above
# fails it ("the worker stopped while running this job"). POSEREVIEW_JOB_TIME_LIMITS overrides the
# registered time limits per kind, e.g. "retrain=86400,import=7200".
POSEREVIEW_JOB_HEARTBEAT_SECONDS = float(os.environ.get("POSEREVIEW_JOB_HEARTBEAT_SECONDS", 10))
POSEREVIEW_JOB_STALE_SECONDS = float(os.environ.get("POSEREVIEW_JOB_STALE_SECONDS", 180))
POSEREVIEW_JOB_TIME_LIMITS = {k.strip(): int(v) for k, v in (
    item.split("=", 1) for item in os.environ.get("POSEREVIEW_JOB_TIME_LIMITS", "").split(",") if "=" in item)}
# A broker that is down must answer fast: queuing a job tries twice within ~2 s, then the job fails
# and the request answers 503 (instead of Celery's default of retrying for seconds).
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("POSEREVIEW_BROKER_TIMEOUT", 2))
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT}
POSEREVIEW_BROKER_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# -- signing in: lockout, tokens, cache ----------------------------------------------------------
# The cache holds sign-in failures and throttle counts, so every web process must share it: Redis
# (POSEREVIEW_CACHE_URL, else the broker's Redis server) in a deployment; the dev runner and the
# tests (POSEREVIEW_DEV, one process) keep it in memory unless POSEREVIEW_CACHE_URL says otherwise.
POSEREVIEW_CACHE_URL = os.environ.get("POSEREVIEW_CACHE_URL") or (
    "locmem://" if os.environ.get("POSEREVIEW_DEV") or not CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else CELERY_BROKER_URL)
if POSEREVIEW_CACHE_URL.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "posereview"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": POSEREVIEW_CACHE_URL.replace("redis+socket://", "unix://"),
                          "KEY_PREFIX": "posereview-cache"}}
    # Sessions read from the shared cache (written through to the database, so none is lost when Redis
    # restarts): one database query less on every signed-in request. With a per-process memory cache a
    # session ended in one process would live on in another's, so that keeps the database engine.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
AUTHENTICATION_BACKENDS = ["annotations.core.throttling.LockoutModelBackend"]
POSEREVIEW_LOGIN_MAX_FAILURES = int(os.environ.get("POSEREVIEW_LOGIN_MAX_FAILURES", 5))
POSEREVIEW_LOGIN_MAX_FAILURES_PER_IP = int(os.environ.get("POSEREVIEW_LOGIN_MAX_FAILURES_PER_IP", 25))
POSEREVIEW_LOGIN_WINDOW_MINUTES = float(os.environ.get("POSEREVIEW_LOGIN_WINDOW_MINUTES", 15))
POSEREVIEW_LOGIN_LOCKOUT_MINUTES = float(os.environ.get("POSEREVIEW_LOGIN_LOCKOUT_MINUTES", 15))
# API tokens are refused once older than this (0: never); POST /api/auth/token/ then issues a new one.
POSEREVIEW_TOKEN_TTL_HOURS = float(os.environ.get("POSEREVIEW_TOKEN_TTL_HOURS", 720))
