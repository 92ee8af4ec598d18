"""What an import or a merge may read: uploaded files, or files and folders on the server inside the allowed roots.

Every server path a request or a job names is resolved (symlinks included) and must lie inside
POSEREVIEW_IMPORT_ROOTS and outside the media storage (which holds every project's frames, exports
and models). With no roots configured, nothing on the server is read by path. The request checks
the paths before its job is queued and stores the resolved ones; the job checks them again when it runs.
"""

from __future__ import annotations

import os

from django.conf import settings

from annotations.core.errors import InputError
from annotations.core.files import save_upload
from annotations.core.params import truthy
from annotations.core.storage import in_place_refusal, local_copy, storage_path

ROOTS_OFF = ("reading files on the server is off: set POSEREVIEW_IMPORT_ROOTS to the folders imports may read "
             "(comma-separated), or upload the file instead")


def import_roots() -> list[str]:
    return [os.path.realpath(r) for r in settings.POSEREVIEW_IMPORT_ROOTS if r]


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def server_path(path, field: str, *, folder: bool = False) -> str:
    """The resolved path of a server file (or folder) a request or job names, or an InputError naming `field`."""
    field = field if field.startswith("'") else f"'{field}'"
    if not isinstance(path, str) or not path.strip():
        raise InputError(f"{field} must be a path on the server (a non-empty string)")
    if "\x00" in path:
        raise InputError(f"{field}: a path cannot contain a NUL character")
    roots = import_roots()
    if not roots:
        raise InputError(f"{field}: {ROOTS_OFF}")
    real = os.path.realpath(path)
    if not any(_inside(real, r) for r in roots):
        raise InputError(f"{field}: {path} is not inside an allowed import folder ({', '.join(roots)}); "
                         f"a symlink counts where it points")
    if _inside(real, os.path.realpath(settings.MEDIA_ROOT)):
        raise InputError(f"{field}: {path} lies in the media storage, whose files belong to projects; "
                         f"export from the project instead")
    if folder:
        if not os.path.isdir(real):
            raise InputError(f"{field}: {path} is not a folder on the server")
        return real
    if os.path.isdir(real):
        raise InputError(f"{field}: {path} is a folder; name the annotation file inside it")
    if not os.path.isfile(real):
        raise InputError(f"{field}: {path} is not a regular file on the server")
    if not os.access(real, os.R_OK):
        raise InputError(f"{field}: {path} cannot be read by the server")
    return real


def check_import_folder(path, field: str = "images_dir") -> str:
    """A server folder an import may read (resolved), inside POSEREVIEW_IMPORT_ROOTS."""
    return server_path(path, field, folder=True)


def import_params(request) -> dict:
    """Job params for an import: an uploaded JSON or zip, or a JSON path and image folder on the server."""
    data = request.data
    params = {"form_label": data.get("form_label") or None, "copy_images": truthy(data.get("copy_images", "")),
              "source_name": data.get("source_name") or None}
    upload = request.FILES.get("file")
    images_dir = check_import_folder(data["images_dir"]) if data.get("images_dir") else None
    if upload is None and not data.get("annotation_path"):
        raise InputError("send a 'file' (COCO JSON or CVAT zip) or an 'annotation_path' on the server")
    if upload is None:
        params["annotation_path"] = server_path(data["annotation_path"], "annotation_path")
    else:
        params["upload"], path = save_upload(upload)
        params["source_name"] = params["source_name"] or os.path.basename(upload.name)
        if upload.name.lower().endswith(".zip"):
            params["zip"] = path
        else:
            params["annotation_path"] = path
    if images_dir:
        params["images_dir"] = images_dir
        if not params["copy_images"] and (refusal := in_place_refusal()):
            raise InputError(f"'copy_images': {refusal}")
    return params


def checked_import_paths(params: dict) -> dict[str, str | None]:
    """The files an import job reads, checked again as it runs: its own upload, or paths inside the roots.

    Returns {"zip": ...} or {"annotation_path": ..., "images_dir": ... or None}, all resolved."""
    upload = params.get("upload")
    key = "zip" if params.get("zip") else "annotation_path"
    if upload:
        if not isinstance(upload, str) or not upload.startswith("uploads/") or ".." in upload.split("/"):
            raise InputError("'upload' must name an upload of this server")
        on_disk = storage_path(upload)
        recorded = params.get(key)
        if not isinstance(recorded, str) or (os.path.realpath(recorded) != os.path.realpath(on_disk) if on_disk
                                             else recorded != upload):
            raise InputError(f"'{key}' must be the uploaded file")
        own = os.path.realpath(on_disk) if on_disk else str(local_copy(upload))
        paths: dict[str, str | None] = {key: own}
    elif key == "zip":
        raise InputError("'zip' must be an uploaded file")
    else:
        paths = {key: server_path(params.get(key), key)}
    if key == "annotation_path":
        paths["images_dir"] = check_import_folder(params["images_dir"]) if params.get("images_dir") else None
    return paths
