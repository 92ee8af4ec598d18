"""Handing a stored file to a browser once a view has checked who may see it.

POSEREVIEW_MEDIA_SERVING says who sends the bytes of a file on this machine's disk:
- "django" (default): the web process streams it (FileResponse);
- "x-accel-redirect": nginx in front serves it; the answer carries only the header
  `X-Accel-Redirect: POSEREVIEW_MEDIA_ACCEL_PREFIX + <absolute path>` (an `internal` nginx location);
- "x-sendfile": Apache (mod_xsendfile) or lighttpd serve it from the `X-Sendfile: <absolute path>` header.
Objects on an S3-compatible store are streamed through the web process, or, with POSEREVIEW_MEDIA_PRESIGNED,
answered with a redirect to a presigned URL (signed for POSEREVIEW_S3_PUBLIC_URL, the address browsers reach
the store at, when it differs from the one the app uses) that expires after POSEREVIEW_MEDIA_PRESIGNED_SECONDS.

Every answer carries Cache-Control `private` (a shared cache must not hand a member's image to someone
else) with POSEREVIEW_MEDIA_MAX_AGE, and an ETag: of the file's size and modification time on disk, of
the storage name for objects (storage names are never reused for new content, core/storage.py). A
request whose If-None-Match matches gets 304 without the file being opened.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.utils.cache import patch_cache_control
from django.utils.http import parse_etags

from annotations.core.storage import STORAGE_PREFIX, storage_path

MODES = ("django", "x-accel-redirect", "x-sendfile")


def _cached(response: HttpResponseBase, etag: str | None, max_age: int | None = None) -> HttpResponseBase:
    if etag:
        response["ETag"] = etag
    patch_cache_control(response, private=True, max_age=settings.POSEREVIEW_MEDIA_MAX_AGE if max_age is None
                        else max_age)
    return response


def _not_modified(request, etag: str) -> bool:
    given = request.META.get("HTTP_IF_NONE_MATCH")
    return bool(given) and (etag in parse_etags(given) or given.strip() == "*")


def serve_path(request, path: str, content_type: str) -> HttpResponseBase:
    """A file on this machine's disk (absolute path), by the configured mode; Http404 when unreadable."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        raise Http404("this file cannot be read") from None
    etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
    if _not_modified(request, etag):
        return _cached(HttpResponseNotModified(), etag)
    mode = settings.POSEREVIEW_MEDIA_SERVING
    response: HttpResponseBase
    if mode == "x-accel-redirect":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.POSEREVIEW_MEDIA_ACCEL_PREFIX.rstrip("/") + quote(real)
    elif mode == "x-sendfile":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = real
    else:
        try:
            response = FileResponse(open(real, "rb"), content_type=content_type)
        except OSError:
            raise Http404("this file cannot be read") from None
    return _cached(response, etag)


@lru_cache(maxsize=4)
def _signing_storage(public_url: str, options_key: str):
    """An S3 storage like the default one whose URLs name `public_url` as the endpoint (signed for it)."""
    from storages.backends.s3 import S3Storage

    options = dict(settings.STORAGES["default"].get("OPTIONS") or {})
    if public_url:
        options["endpoint_url"] = public_url
    return S3Storage(**options)


def presigned_url(name: str) -> str:
    """A URL of storage object `name` that a browser can fetch without credentials until it expires."""
    options = settings.STORAGES["default"].get("OPTIONS") or {}
    storage = _signing_storage(settings.POSEREVIEW_S3_PUBLIC_URL,
                               repr(sorted((k, str(v)) for k, v in options.items())))
    return storage.url(name, expire=settings.POSEREVIEW_MEDIA_PRESIGNED_SECONDS)


def serve_stored(request, name: str, content_type: str) -> HttpResponseBase:
    """Storage file `name` (a frame, a thumbnail): from disk by serve_path, else from the object store."""
    own = storage_path(name)
    if own is not None:
        return serve_path(request, own, content_type)
    etag = '"' + hashlib.sha256(name.encode()).hexdigest()[:20] + '"'
    if _not_modified(request, etag):
        return _cached(HttpResponseNotModified(), etag)
    if settings.POSEREVIEW_MEDIA_PRESIGNED:
        # The redirect may be reused only while the URL it names is still valid.
        return _cached(HttpResponseRedirect(presigned_url(name)), None,
                       min(settings.POSEREVIEW_MEDIA_MAX_AGE, settings.POSEREVIEW_MEDIA_PRESIGNED_SECONDS // 2))
    try:
        return _cached(FileResponse(default_storage.open(name, "rb"), content_type=content_type), etag)
    except OSError:
        raise Http404("this file cannot be read") from None


def serve_frame_image(request, frame) -> HttpResponseBase:
    """A frame's pixels: its stored image, else the file it was imported from in place."""
    if frame.image:
        return serve_stored(request, frame.image.name, "image/jpeg")
    if frame.source_path:
        if frame.source_path.startswith(STORAGE_PREFIX):
            return serve_stored(request, frame.source_path[len(STORAGE_PREFIX):], "image/jpeg")
        return serve_path(request, frame.source_path, "image/jpeg")
    raise Http404("this frame's image is missing")
