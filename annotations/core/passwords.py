"""Passwords someone else set: an account a PI created, or whose password a PI reset, must choose its own
password at its first sign-in before it can do anything else.

The mark is membership of the auth group MUST_CHANGE: no schema change, and an admin sees (and may set
or clear) it in Django's admin. It is read once at sign-in into the session (SESSION_KEY), so requests
pay no query for it; a reset password signs the person out everywhere (Django's session hash), so the
next sign-in reads it again. Until a password change clears it:
- every page redirects to the change-password page (PasswordChangeRequiredMiddleware);
- the REST API answers 403 {"detail": MESSAGE, "code": "password_change_required"} to session auth;
- POST /api/auth/token/ issues no token for the temporary password (auth.py);
- a token the person obtained before (a training script's) keeps working: it is not the password a
  PI knows, and scripts should not stop because someone's password was reset.

Kept light (no views): DRF imports the authentication class while it builds its settings.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.shortcuts import redirect
from django.urls import reverse
from drf_spectacular.authentication import SessionScheme
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication

MUST_CHANGE = "must change password"
SESSION_KEY = "posereview_must_change_password"
MESSAGE = ("Your password was set by someone else (a PI): choose your own at /accounts/password/ "
           "before using PoseReview.")
# Where a person with a temporary password may still go: the change itself, signing out, static files.
# The API (/api/) decides for itself: session auth is refused there, token auth is not.
OPEN_PREFIXES = ("/accounts/password/", "/accounts/logout/", "/accounts/login/", "/static/", "/favicon.ico",
                 "/healthz", "/api/")


def must_change(user) -> bool:
    """Whether `user` still has a password someone else set (one query)."""
    return bool(user is not None and user.is_authenticated and user.groups.filter(name=MUST_CHANGE).exists())


def require_change(user) -> None:
    """Mark `user`: their current password was set by someone else."""
    group, _ = Group.objects.get_or_create(name=MUST_CHANGE)
    user.groups.add(group)


def changed(request) -> None:
    """The signed-in person chose their own password: the mark goes, from the account and the session."""
    request.user.groups.remove(*Group.objects.filter(name=MUST_CHANGE))
    request.session.pop(SESSION_KEY, None)


@receiver(user_logged_in, dispatch_uid="posereview-must-change-password")
def _read_at_sign_in(sender, request, user, **kwargs):
    if request is None or not hasattr(request, "session"):
        return
    if must_change(user):
        request.session[SESSION_KEY] = True
    else:
        request.session.pop(SESSION_KEY, None)


def session_must_change(request) -> bool:
    """Whether this signed-in session belongs to a person who must change their password first."""
    session = getattr(request, "session", None)
    return bool(session is not None and session.get(SESSION_KEY))


class PasswordChangeRequiredMiddleware:
    """Pages for a signed-in person who must change their password redirect to the change-password page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(OPEN_PREFIXES) and session_must_change(request):
            return redirect(reverse("password_change"))
        return self.get_response(request)


class PasswordChangeRequired(exceptions.PermissionDenied):
    def __init__(self):
        super().__init__({"detail": MESSAGE, "code": "password_change_required"})


class SessionAuthenticationWithOwnPassword(SessionAuthentication):
    """DRF's session auth, refusing (403, MESSAGE) a person who has not chosen their own password yet."""

    def authenticate(self, request):
        found = super().authenticate(request)
        if found is not None and session_must_change(request._request):
            raise PasswordChangeRequired()
        return found


class OwnPasswordSessionScheme(SessionScheme):
    """The API description's cookie auth, as for DRF's session auth."""

    target_class = "annotations.core.passwords.SessionAuthenticationWithOwnPassword"
