"""What an import may read: uploaded files, or files and folders on the server inside the allowed roots."""

from __future__ import annotations

import os

from django.conf import settings

from annotations.core.errors import InputError
from annotations.core.files import save_upload
from annotations.core.params import truthy


def check_import_folder(path: str) -> str:
    """A server folder an import may read: absolute, existing, and inside POSEREVIEW_IMPORT_ROOTS if set."""
    real = os.path.realpath(path)
    roots = [os.path.realpath(r) for r in settings.POSEREVIEW_IMPORT_ROOTS]
    if roots and not any(real == r or real.startswith(r + os.sep) for r in roots):
        raise InputError(f"{path}: not inside an allowed import folder ({', '.join(roots)})")
    if not os.path.isdir(real):
        raise InputError(f"{path}: no such folder on the server")
    return real


def import_params(request) -> dict:
    """Job params for an import: an uploaded JSON or zip, or a JSON path and image folder on the server."""
    data = request.data
    params = {"form_label": data.get("form_label") or None, "copy_images": truthy(data.get("copy_images", "")),
              "source_name": data.get("source_name") or None}
    upload = request.FILES.get("file")
    if upload is not None:
        params["upload"], path = save_upload(upload)
        params["source_name"] = params["source_name"] or os.path.basename(upload.name)
        if upload.name.lower().endswith(".zip"):
            params["zip"] = path
        else:
            params["annotation_path"] = path
    elif data.get("annotation_path"):
        params["annotation_path"] = data["annotation_path"]
        check_import_folder(os.path.dirname(data["annotation_path"]) or "/")
    else:
        raise InputError("send a 'file' (COCO JSON or CVAT zip) or an 'annotation_path' on the server")
    if data.get("images_dir"):
        params["images_dir"] = check_import_folder(data["images_dir"])
    return params
