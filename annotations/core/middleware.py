"""Every page needs a logged-in user (the REST API answers 401/403 itself); every response carries the
Content-Security-Policy of settings.POSEREVIEW_CSP."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/api/", "/admin/", "/healthz", "/favicon.ico")


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.user.is_authenticated and not request.path.startswith(PUBLIC_PREFIXES):
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Adds `Content-Security-Policy: <settings.POSEREVIEW_CSP>` to every response that has none.

    Pages load scripts and styles from our own origin only, as files: no inline <script>, no event
    handler attributes, no style="..." attributes (scripts may still set element.style). Django's
    debug error pages (DEBUG only) are inline and are left without the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.POSEREVIEW_CSP
        if policy and "Content-Security-Policy" not in response and not (
                settings.DEBUG and response.status_code >= 400):
            response["Content-Security-Policy"] = policy
        return response
