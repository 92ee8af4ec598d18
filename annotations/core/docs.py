"""The API documentation pages: Swagger UI and Redoc (drf-spectacular), with their scripts and styles
served from our own static files (drf-spectacular-sidecar), so they work offline.

Swagger UI runs under the site's Content-Security-Policy as it is (its init script is a file: the split
view serves it at ?script). Redoc writes its styles into <style> elements while its bundle loads, before
any option (such as a nonce) can reach it, and runs its search index in a blob: worker; its page alone
allows inline styles ('unsafe-inline' in style-src only) and blob: workers. Scripts stay 'self' there
too, so the page still runs no inline or foreign script. (Its bundle also asks a CDN for its vendor's
logo: img-src 'self' refuses that and Redoc hides the image, so the page works offline.)"""

from __future__ import annotations

import re

from django.conf import settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView


def redoc_policy(policy: str) -> str:
    """`policy` with 'unsafe-inline' added to its style-src (and style-src-elem) and blob: to worker-src."""
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    for name in ("style-src", "worker-src"):
        if not any(re.match(rf"{name}\b", d) for d in directives):
            directives.append(f"{name} 'self'")
    out = []
    for d in directives:
        if re.match(r"style-src(-elem)?\b", d) and "'unsafe-inline'" not in d:
            d += " 'unsafe-inline'"
        elif re.match(r"worker-src\b", d) and "blob:" not in d:
            d += " blob:"
        out.append(d)
    return "; ".join(out)


class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if settings.POSEREVIEW_CSP:
            response["Content-Security-Policy"] = redoc_policy(settings.POSEREVIEW_CSP)
        return response
