"""Sign-in lockout and request throttles.

Lockout: after POSEREVIEW_LOGIN_MAX_FAILURES failed sign-ins for one username (or
POSEREVIEW_LOGIN_MAX_FAILURES_PER_IP from one client address) within POSEREVIEW_LOGIN_WINDOW_MINUTES,
every further attempt for that username (or from that address) is refused for
POSEREVIEW_LOGIN_LOCKOUT_MINUTES, right password or not. It applies wherever a password is checked
(login page, token endpoint, admin), because `LockoutModelBackend` is the authentication backend.
State lives in Django's cache (shared by every web process in a deployment).

Throttles (DRF): `AuthRateThrottle` limits requests to the token endpoint per client address
(scope "auth"); `UploadRateThrottle` limits uploads per user (scope "uploads"); the rates are
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle


def now() -> float:
    """The clock the lockout reads (tests replace it instead of waiting)."""
    return time.time()


def client_ip(request) -> str | None:
    """The client's address as DRF's throttles see it (X-Forwarded-For only behind NUM_PROXIES proxies)."""
    if request is None or not getattr(request, "META", None):
        return None
    return BaseThrottle().get_ident(request) or None


def _limits() -> dict[str, float]:
    return {
        "user": settings.POSEREVIEW_LOGIN_MAX_FAILURES,
        "ip": settings.POSEREVIEW_LOGIN_MAX_FAILURES_PER_IP,
        "window": settings.POSEREVIEW_LOGIN_WINDOW_MINUTES * 60,
        "lockout": settings.POSEREVIEW_LOGIN_LOCKOUT_MINUTES * 60,
    }


def _subjects(username: str | None, ip: str | None) -> list[tuple[str, str]]:
    """(kind, cache-safe id) of each thing a sign-in attempt counts against."""
    subjects = []
    if username:
        subjects.append(("user", hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]))
    if ip:
        subjects.append(("ip", hashlib.sha256(ip.encode()).hexdigest()[:32]))
    return subjects


def locked_for(username: str | None, ip: str | None) -> int:
    """Seconds until sign-in for this username / from this address is allowed again (0: allowed)."""
    remaining = 0.0
    t = now()
    for kind, ident in _subjects(username, ip):
        until = cache.get(f"login-lock:{kind}:{ident}")
        if until is not None and until > t:
            remaining = max(remaining, until - t)
    return math.ceil(remaining)


def record_failure(username: str | None, ip: str | None) -> None:
    limits = _limits()
    for kind, ident in _subjects(username, ip):
        key = f"login-fail:{kind}:{ident}"
        cache.add(key, 0, timeout=int(limits["window"]))
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=int(limits["window"]))
            count = 1
        if count >= limits[kind]:
            cache.set(f"login-lock:{kind}:{ident}", now() + limits["lockout"], timeout=int(limits["lockout"]) + 1)
            cache.delete(key)  # the next lockout needs a full run of new failures


def record_success(username: str | None) -> None:
    """A right password (while not locked) clears the username's failures; the address keeps its count."""
    for kind, ident in _subjects(username, None):
        cache.delete(f"login-fail:{kind}:{ident}")


def lockout_message(seconds: int, reason: str = "Too many failed sign-in attempts") -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (f"{reason}. Sign-in is paused for this account or address; "
            f"try again in {minutes} minute{'s' if minutes != 1 else ''}.")


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses locked usernames/addresses before checking the password and counts
    failures. Raising PermissionDenied stops Django's authenticate() at once (no other backend tried)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            from django.contrib.auth import get_user_model

            username = kwargs.get(get_user_model().USERNAME_FIELD)
        ip = client_ip(request)
        if locked_for(username, ip):
            raise PermissionDenied("sign-in locked")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            if username is not None and password is not None:
                record_failure(username, ip)
        else:
            record_success(username)
        return user


class _SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate when asked (DRF binds THROTTLE_RATES at import, which settings overrides miss)."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AuthRateThrottle(_SettingsRateThrottle):
    """Requests to the token endpoint, per client address, whoever they claim to be."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UploadRateThrottle(_SettingsRateThrottle):
    """Uploads (POSTs of files or import jobs), per user; reads are never counted."""

    scope = "uploads"

    def allow_request(self, request, view):
        if request.method in ("GET", "HEAD", "OPTIONS") or not self.counts(request):
            return True
        return super().allow_request(request, view)

    def counts(self, request) -> bool:
        return True

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ImportRateThrottle(UploadRateThrottle):
    """The dataset jobs endpoint: only `kind: import` is an upload."""

    def counts(self, request) -> bool:
        try:
            return request.data.get("kind") == "import"
        except AttributeError:
            return False
