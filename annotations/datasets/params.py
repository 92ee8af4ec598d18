"""What the params of each dataset job started over REST may be: checked by type and range before a
Job row exists, so a wrong type is a 400 naming the field. (Merge's server paths are resolved and
checked against the import roots by merging.merge_params; this module only checks the shape.)"""

from __future__ import annotations

from annotations.core.errors import InputError
from annotations.core.params import Check, anything, boolean, check_params, integer, list_of, number, obj, one_of, text
from annotations.datasets.formats.registry import FORMATS
from annotations.models import Subset

RATIO = number(0.0, 1.0)
PATH = text(null=True, max_length=4096)

JOB_PARAMS: dict[str, dict[str, Check]] = {
    "split": {"ratios": obj({s: RATIO for s in Subset.values}, null=True), "seed": integer(0, 2**31 - 1),
              "fresh": boolean()},
    "export": {"format": text(tuple(FORMATS)), "subsets": list_of(text((*Subset.values, "all")), min_length=1,
                                                                   max_length=4),
               "split_version": integer(1, 2**31 - 1, null=True), "include_images": boolean(),
               "verified_only": boolean(), "include_unconfirmed": boolean()},
    # merging.merge_params checks these (and resolves the paths) before the job is queued.
    "merge": {"projects": anything, "files": anything, "into": anything},
    "store_frames": {"batch_size": integer(1, 5000)},
}

# An import is sent as form fields (multipart with a file) or JSON, not as "params".
IMPORT_FIELDS = {
    "kind": anything, "file": anything, "form_label": text(null=True), "source_name": text(null=True, max_length=255),
    "annotation_path": PATH, "images_dir": PATH, "copy_images": one_of(boolean(), text(max_length=5)),
}


def check_job_params(kind: str, params) -> dict:
    """A dataset job's params (not import), checked by type and range."""
    if params is None:
        params = {}
    return check_params(params, JOB_PARAMS[kind], "params")


def check_import_fields(data) -> None:
    """The fields of an import request, checked by type (the paths themselves are checked by imports.py)."""
    if not hasattr(data, "keys"):
        raise InputError("send a JSON object or form fields")
    fields = {k: data[k] for k in data.keys()}
    check_params(fields, IMPORT_FIELDS, "")
