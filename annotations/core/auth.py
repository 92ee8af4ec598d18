"""Signing in: the token endpoint (obtain, rotate, revoke) and the login page, both behind the sign-in
lockout of annotations/core/throttling.py.

`POST /api/auth/token/` with username and password returns the caller's token, a fresh one if the old
one expired (annotations/core/tokens.py); `DELETE /api/auth/token/` revokes the caller's token (the
next POST issues a new key).
"""

from __future__ import annotations

import math

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.core import passwords, throttling
from annotations.core.schema import ERRORS, ErrorSerializer
from annotations.core.tokens import current_token, token_expires_at


class LockedOut(exceptions.Throttled):
    default_detail = "Too many failed sign-in attempts."
    default_code = "locked_out"


class TokenView(APIView):
    """POST {username, password} -> {token, expires_at}; DELETE (authenticated) -> 204, token revoked."""

    throttle_classes = [throttling.AuthRateThrottle]
    renderer_classes = [JSONRenderer]

    def get_permissions(self):
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    @extend_schema(
        summary="Obtain (or rotate) the caller's token", auth=[],
        request=AuthTokenSerializer,
        responses={200: inline_serializer("Token", fields={
            "token": serializers.CharField(),
            "expires_at": serializers.DateTimeField(allow_null=True)}),
            400: ERRORS[400],
            403: OpenApiResponse(ErrorSerializer, description="The password is a temporary one a PI set: "
                                                             "change it at /accounts/password/ first."),
            429: OpenApiResponse(ErrorSerializer, description="Too many attempts, or the name/address is locked out.")})
    def post(self, request):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        wait = throttling.locked_for(username if isinstance(username, str) else None, throttling.client_ip(request))
        if wait:
            raise LockedOut(wait=wait, detail=throttling.lockout_message(wait))
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            wait = throttling.locked_for(username if isinstance(username, str) else None,
                                         throttling.client_ip(request))
            if wait:  # this failure started a lockout: say so now
                raise LockedOut(wait=wait, detail=throttling.lockout_message(wait))
            raise exceptions.ValidationError(serializer.errors)
        if passwords.must_change(serializer.validated_data["user"]):
            # The password a PI set is theirs to pass on, not a credential to script with.
            raise passwords.PasswordChangeRequired()
        token = current_token(serializer.validated_data["user"])
        expires = token_expires_at(token)
        return Response({"token": token.key, "expires_at": expires.isoformat() if expires else None})

    @extend_schema(summary="Revoke the caller's token", responses={204: None, 403: ERRORS[403]})
    def delete(self, request):
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


token_view = TokenView.as_view()


class LoginView(auth_views.LoginView):
    """Django's login page; while a username or address is locked out, or an address posts more often
    than the token endpoint's rate (the same "auth" count), it answers 429 with the reason."""

    def post(self, request, *args, **kwargs):
        throttle = throttling.AuthRateThrottle()
        if not throttle.allow_request(request, self):
            return self._locked(math.ceil(throttle.wait() or 60), "Too many sign-in attempts from this address")
        wait = throttling.locked_for(request.POST.get("username"), throttling.client_ip(request))
        if wait:
            return self._locked(wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        wait = throttling.locked_for(self.request.POST.get("username"), throttling.client_ip(self.request))
        if wait:  # this failure started a lockout: say so now
            return self._locked(wait)
        return super().form_invalid(form)

    def _locked(self, wait: int, reason: str = ""):
        form = self.get_form_class()(self.request)  # unbound: rendering it checks no password
        message = throttling.lockout_message(wait, reason) if reason else throttling.lockout_message(wait)
        response = self.render_to_response(self.get_context_data(form=form, lockout=message))
        response.status_code = 429
        response["Retry-After"] = str(wait)
        return response


login_view = LoginView.as_view()


class OwnPasswordForm(PasswordChangeForm):
    """Django's change-password form, refusing the old password as the new one (a PI's stays a PI's)."""

    def clean(self):
        data = super().clean()
        new = data.get("new_password1")
        if new and self.user.check_password(new):
            self.add_error("new_password1", forms.ValidationError("Choose a password different from the current one."))
        return data


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's change-password page; it says why when the person must change a password a PI set, and
    the change lifts that (annotations/core/passwords.py)."""

    form_class = OwnPasswordForm

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "forced": passwords.session_must_change(self.request)}

    def form_valid(self, form):
        response = super().form_valid(form)
        passwords.changed(self.request)
        return response


password_change_view = PasswordChangeView.as_view()
