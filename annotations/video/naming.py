"""Names of videos and clips: accepted file names, names safe in frame file names, unique per project."""

from __future__ import annotations

import os
import re
from pathlib import Path

from annotations.core.errors import InputError
from annotations.models import Project, Video

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
CLIP_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def check_video_file_name(name: str) -> str:
    """The extension of an accepted video file name; InputError for anything else."""
    ext = os.path.splitext(name or "")[1].lower()
    if ext not in VIDEO_EXTENSIONS:
        raise InputError(f"{name or 'the file'}: not a supported video file; upload one of "
                         f"{', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)}")
    return ext


def clip_of(video: Video) -> str:
    keys = list(video.clips.values_list("key", flat=True))
    if len(keys) != 1:
        raise InputError(f"video {video.name} has {len(keys)} clips; say which clip to extract into")
    return keys[0]


def safe_video_name(wanted: str | None, clip_key: str | None, file_name: str) -> str:
    """A name safe in file names: the one asked for, else the clip id's video part, else the file's stem.

    Underscores become '-' because `_` separates video, clip and frame in frame names.
    """
    if not wanted and clip_key and "_" in clip_key:
        wanted = clip_key.rsplit("_", 1)[0]
    wanted = wanted or Path(file_name).stem
    return _UNSAFE.sub("-", wanted).strip("-")[:80] or "video"


def unique_video_name(project: Project, name: str) -> str:
    taken = set(Video.objects.filter(project=project, name__startswith=name).values_list("name", flat=True))
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"
