"""Videos into frames: the extraction job behind the upload page, the REST upload and import_video.

A video becomes one clip. Its frames are JPEGs named `<clip>_<frame>.jpg`, where the clip id is
`<video>_<n>` (so `squat_1_42.jpg` is frame 42 of clip `squat_1` of video `squat`), the frame
number being the frame's position in the video. Numbering by position, not by extraction order,
makes re-extraction at another rate reuse the names of frames it picks again, and so keep the
frames people have annotated.

One extraction either lands whole or leaves nothing: frames are decoded and written to storage
first, rows are written in one transaction at the end, and every written file is removed again
if anything fails (a damaged file, a truncated one, a database error).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import re
import shutil
import tempfile
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.move import file_move_safe
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from PIL import Image

from ..models import Clip, Frame, FrameStatus, Job, Project, Video
from .errors import InputError
from .video_decode import DecodeStats, Selection, VideoProblem, decode, probe

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v")
JPEG_QUALITY = 90
THUMBNAIL_BOX = (192, 192)
# Frames being encoded at once: JPEG encoding releases the GIL, so threads overlap it with decoding.
ENCODE_THREADS = min(4, os.cpu_count() or 1)
_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
_CLIP_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


# -- parameters -----------------------------------------------------------------------------------

def check_video_file_name(name: str) -> str:
    """The extension of an accepted video file name; InputError for anything else."""
    ext = os.path.splitext(name or "")[1].lower()
    if ext not in VIDEO_EXTENSIONS:
        raise InputError(f"{name or 'the file'}: not a supported video file; upload one of "
                         f"{', '.join(e.lstrip('.') for e in VIDEO_EXTENSIONS)}")
    return ext


def extraction_options(data) -> dict:
    """Validated extraction options from a form, a JSON body or command-line flags.

    data keys: mode ("all" | "every" | "fps"), every (N), fps (F), clip (clip id, e.g. 52723_8),
    video (video name), preannotate (bool). Returns job params (selection described as a dict).
    """
    get = data.get
    try:
        selection = Selection.parse(get("mode") or None, get("every"), get("fps"))
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    options = {"selection": selection.describe(),
               "preannotate": str(get("preannotate", "")).lower() in ("1", "true", "yes", "on")}
    clip = (get("clip") or "").strip()
    if clip:
        if _CLIP_UNSAFE.search(clip) or clip.startswith(("_", "-")):
            raise InputError(f"clip id {clip!r}: use letters, digits, '-' and '_' only (e.g. 52723_8)")
        options["clip"] = clip
    video = (get("video") or "").strip()
    if video:
        options["video"] = video
    return options


def selection_of(params: dict) -> Selection:
    s = params.get("selection") or {}
    return Selection.parse(s.get("mode"), s.get("every"), s.get("fps"))


def start_extraction(project: Project, upload_name: str, source_name: str, options: dict, user=None, *,
                     run_now: bool = False) -> Job:
    """Queue the extraction of an uploaded video (a storage name under uploads/, removed by the job)."""
    from .jobs import start_job

    check_video_file_name(source_name)
    return start_job(project, Job.Kind.EXTRACT, {"upload": upload_name, "source_name": source_name, **options},
                     user, run_now=run_now)


def start_reextraction(video: Video, options: dict, user=None, *, run_now: bool = False) -> Job:
    """Queue a new extraction of a stored video (another rate); annotated frames stay."""
    from .jobs import start_job

    if not video.file:
        raise InputError(f"video {video.name} has no stored file to extract from")
    options = {k: v for k, v in options.items() if k not in ("video",)}
    return start_job(video.project, Job.Kind.EXTRACT, {"video_id": video.pk, **options}, user, run_now=run_now)


# -- the job --------------------------------------------------------------------------------------

def run_extract_job(job: Job) -> dict:
    """Job handler for kind "extract". params: upload + source_name, or video_id; selection, clip, video,
    preannotate. Returns the summary (also printed by import_video)."""
    p = job.params
    selection = selection_of(p)
    if p.get("video_id"):
        video = Video.objects.filter(project=job.project, pk=p["video_id"]).first()
        if video is None:
            raise InputError(f"video {p['video_id']} does not exist in {job.project.slug}")
        with local_file(video.file.name) as path:
            result = extract(job.project, path, label=video.source_name or video.name, selection=selection,
                             video=video, clip_key=p.get("clip"), job=job)
    else:
        upload = p["upload"]
        try:
            with local_file(upload) as path:
                result = extract(job.project, path, label=p.get("source_name") or os.path.basename(upload),
                                 selection=selection, video_name=p.get("video"), clip_key=p.get("clip"),
                                 source_name=p.get("source_name") or "", upload_name=upload, job=job)
        finally:
            remove_upload(upload)  # kept as the video's file on success (moved), useless on failure
    result["preannotation"] = preannotate(job.project, result["new_frame_ids"], job.created_by) \
        if p.get("preannotate") else {"requested": False}
    result["new_frame_ids"] = result["new_frame_ids"][:1000]
    job.message = (f"{result['frames']} frames of clip {result['clip']} ({result['new_frames']} new, "
                   f"{result['kept_frames']} kept, {result['removed_frames']} removed)")
    return result


def extract(project: Project, path: str, *, label: str, selection: Selection, video: Video | None = None,
            video_name: str | None = None, clip_key: str | None = None, source_name: str = "",
            upload_name: str | None = None, job: Job | None = None) -> dict:
    """Decode `path` into frames of one clip. A new video when `video` is None (its file is moved from
    `upload_name` into videos/), else a re-extraction of `video` that removes the frames it no longer
    picks unless someone worked on them."""
    report = job.report if job else (lambda *a, **k: None)
    try:
        info = probe(path, label)
    except VideoProblem as exc:
        raise InputError(str(exc)) from exc
    report(0.02, f"{info.codec} {info.width}x{info.height}, {info.fps or '?'} fps, "
                 f"{info.duration or '?'} s; decoding")

    reextract = video is not None
    if video is None:
        if not upload_name:
            raise InputError("a new video needs its uploaded file")
        video_name = unique_video_name(project, _safe_video_name(video_name, clip_key, source_name or label))
        clip_key = clip_key or f"{video_name}_1"
    else:
        clip_key = clip_key or _clip_of(video)
    clip = Clip.objects.filter(project=project, key=clip_key).first()
    if clip is not None and clip.video_id and (video is None or clip.video_id != video.pk):
        raise InputError(f"clip {clip_key} already holds the frames of video {clip.video}; "
                         "choose another clip id, or re-extract that video")
    # name -> id of the clip's frames, and which of them lack pixels (imported without their image).
    existing = dict(Frame.objects.filter(project=project, clip=clip).values_list("file_name", "id")) if clip else {}
    imageless = {name: (w, h) for name, w, h in Frame.objects.filter(project=project, clip=clip, image="",
                                                                     source_path="")
                 .values_list("file_name", "width", "height")} if clip else {}

    writer = FrameWriter(project.slug)
    stats = DecodeStats()
    picked: list[dict] = []
    try:
        for frame in decode(path, selection, stats, label, progress=lambda f: report(0.02 + 0.88 * f)):
            name = f"{clip_key}_{frame.index}.jpg"
            width, height = frame.size
            row = {"file_name": name, "index": frame.index, "time": frame.time, "width": width, "height": height}
            picked.append(row)
            # An imported frame without pixels gets the video's, if the sizes agree (its labels are in pixels).
            if name not in existing or imageless.get(name) == (width, height):
                row["files"] = writer.submit(name, frame)
        writer.wait()
        report(0.92, f"writing {len(picked)} frames")
        with transaction.atomic():
            if video is None:
                stored = keep_video_file(upload_name, f"videos/{project.slug}/{video_name}"
                                         f"{os.path.splitext(source_name or label)[1].lower()}")
                writer.stored.append(stored)
                video = Video(project=project, name=video_name, file=stored, source_name=source_name or label)
            _describe(video, info, stats)
            video.save()
            if clip is None:
                clip = Clip.objects.create(project=project, key=clip_key, video=video)
            elif not clip.video_id:
                clip.video = video  # frames imported earlier from this recording's clip
                clip.save(update_fields=["video"])
            new = [Frame(project=project, clip=clip, file_name=r["file_name"], image=r["files"].result()[0],
                         thumbnail=r["files"].result()[1], timestamp=round(r["time"], 6), width=r["width"],
                         height=r["height"], frame_index=r["index"], status=FrameStatus.UNLABELLED)
                   for r in picked if "files" in r and r["file_name"] not in existing]
            Frame.objects.bulk_create(new, batch_size=2000)
            for r in picked:  # imported frames that had no image get the video's (their labels stay as they are)
                if "files" in r and r["file_name"] in existing:
                    image, thumb = r["files"].result()
                    Frame.objects.filter(pk=existing[r["file_name"]]).update(image=image, thumbnail=thumb,
                                                                            timestamp=round(r["time"], 6))
            removed = prune(clip, {r["file_name"] for r in picked}) if reextract else 0
    except VideoProblem as exc:
        writer.discard()
        raise InputError(str(exc)) from exc
    except IntegrityError as exc:
        writer.discard()
        # Another extraction took the same video, clip or frame names meanwhile (the names were free when checked).
        raise InputError(f"{label}: its video, clip or frame names were taken by another extraction in "
                         f"{project.slug} meanwhile; try again ({exc})") from exc
    except BaseException:
        writer.discard()
        raise
    finally:
        writer.close()
    report(1.0, f"extracted {len(picked)} frames")
    return {
        "video": video.name, "video_id": video.pk, "clip": clip.key, "clip_id": clip.pk,
        "frames": len(picked), "new_frames": len(new), "kept_frames": len(picked) - len(new),
        "removed_frames": removed, "source_frames": stats.decoded, "selection": selection.describe(),
        "fps": video.fps, "duration": video.duration, "width": video.width, "height": video.height,
        "codec": video.codec, "rotation": video.rotation, "variable_frame_rate": video.variable_frame_rate,
        "new_frame_ids": [f.pk for f in new],
    }


def _describe(video: Video, info, stats: DecodeStats) -> None:
    """Record what the file is: nominal fps unless the rate varies (then the measured mean)."""
    vfr = stats.variable_frame_rate
    video.fps = round(stats.mean_fps if vfr and stats.mean_fps else info.fps or stats.mean_fps or 0, 4) or None
    # Measured from the frames (last frame's time plus one interval); the header only for a single frame.
    video.duration = round((stats.end_time if stats.decoded > 1 else None) or info.duration or 0.0, 4)
    video.width, video.height, video.codec = info.width, info.height, info.codec
    video.rotation, video.frame_count, video.variable_frame_rate = info.rotation, stats.decoded, vfr


def prune(clip: Clip, keep: set[str]) -> int:
    """Remove the clip's extracted frames that the new selection dropped and nobody worked on.

    Kept whatever the selection: frames with an annotation or any history, frames past
    "unlabelled", and frames that came from an import (no timestamp). Their files go after commit.
    """
    doomed = (Frame.objects.filter(clip=clip, status=FrameStatus.UNLABELLED, timestamp__isnull=False,
                                   annotations__isnull=True, revisions__isnull=True)
              .exclude(file_name__in=keep))
    files = [n for pair in doomed.values_list("image", "thumbnail") for n in pair if n]
    count = Frame.objects.filter(pk__in=list(doomed.values_list("pk", flat=True))).delete()[1].get("annotations.Frame", 0)
    transaction.on_commit(lambda: [default_storage.delete(n) for n in files])
    return count


def _clip_of(video: Video) -> str:
    keys = list(video.clips.values_list("key", flat=True))
    if len(keys) != 1:
        raise InputError(f"video {video.name} has {len(keys)} clips; say which clip to extract into")
    return keys[0]


def _safe_video_name(wanted: str | None, clip_key: str | None, file_name: str) -> str:
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


# -- files ----------------------------------------------------------------------------------------

class FrameWriter:
    """Encodes frames (JPEG and thumbnail) on a few threads and stores them; remembers what it stored.

    submit() returns a Future of (image name, thumbnail name). At most 2 * threads frames wait in
    memory, so a 4K video does not fill RAM faster than the encoder drains it.
    """

    def __init__(self, slug: str, threads: int = ENCODE_THREADS):
        self.slug = slug
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="frame-jpeg")
        self.pending: deque[Future] = deque()
        self.limit = 2 * threads
        self.stored: list[str] = []
        self._lock = threading.Lock()

    def submit(self, file_name: str, frame) -> Future:
        """frame: a video_decode.DecodedFrame (converted to RGB on the writer's thread) or a PIL image."""
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        future = self.pool.submit(self._write, file_name, frame)
        self.pending.append(future)
        return future

    def wait(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def _save(self, name: str, image: Image.Image) -> str:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=JPEG_QUALITY)
        stored = default_storage.save(name, ContentFile(buf.getvalue()))
        with self._lock:
            self.stored.append(stored)
        return stored

    def _write(self, file_name: str, frame) -> tuple[str, str]:
        image = frame if isinstance(frame, Image.Image) else frame.image
        main = self._save(f"frames/{self.slug}/{file_name}", image)
        return main, self._save(f"thumbnails/{self.slug}/{file_name}", thumbnail(image))

    def discard(self) -> None:
        """Remove every file written so far (after the running encodes finish)."""
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        with self._lock:
            names, self.stored = self.stored, []
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:
                log.warning("could not remove %s", name)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def thumbnail(image: Image.Image) -> Image.Image:
    """The picture shrunk to fit THUMBNAIL_BOX, aspect kept (what Image.thumbnail does, without a copy)."""
    scale = min(THUMBNAIL_BOX[0] / image.width, THUMBNAIL_BOX[1] / image.height, 1.0)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


@contextmanager
def local_file(name: str):
    """A local path for a storage file: the file itself on disk storage, else a temporary copy."""
    try:
        yield default_storage.path(name)
        return
    except NotImplementedError:
        pass
    suffix = os.path.splitext(name)[1]
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, default_storage.open(name, "rb") as src:
        shutil.copyfileobj(src, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name


def keep_video_file(source: str, target: str) -> str:
    """Move the uploaded video (storage name `source`) to `target` in storage; returns the stored name.

    On disk storage this is a rename, so a 2 GB upload is not copied again.
    """
    try:
        src_path = default_storage.path(source)
        dst_name = default_storage.get_available_name(target)
        dst_path = default_storage.path(dst_name)
    except NotImplementedError:
        with default_storage.open(source, "rb") as fh:
            return default_storage.save(target, File(fh))
    os.makedirs(os.path.dirname(dst_path), exist_ok=True)
    file_move_safe(src_path, dst_path, allow_overwrite=False)
    return dst_name


def remove_upload(name: str | None) -> None:
    """Delete an upload and its per-upload folder (uploads/<id>/)."""
    if not name or not name.startswith("uploads/"):
        return
    if default_storage.exists(name):
        default_storage.delete(name)
    try:
        os.rmdir(default_storage.path(name.rsplit("/", 1)[0]))
    except (OSError, NotImplementedError):
        pass


# -- pre-annotation -------------------------------------------------------------------------------

def preannotate(project: Project, frame_ids: list[int], user=None) -> dict:
    """Start the model's predict job on the new frames (it queues the score job when it is done).

    The model jobs live in annotations.services.learning; without it, or without a model to
    predict with, the result says so instead of pretending.
    """
    if not frame_ids:
        return {"requested": True, "available": True, "jobs": [], "reason": "no new frames"}
    if importlib.util.find_spec("annotations.services.learning") is None:
        return {"requested": True, "available": False,
                "reason": "pre-annotation needs the model jobs (predict, score), which are not available yet"}
    from .jobs import start_job

    try:
        from .learning.runtime import keypoint_version_for

        version = keypoint_version_for(project)
    except InputError as exc:
        return {"requested": True, "available": False, "reason": str(exc)}
    except ImportError:  # an older learning package without the runtime helper: let the job decide
        version = None
    job = start_job(project, Job.Kind.PREDICT, {"frames": frame_ids, "then_score": True}, user)
    return {"requested": True, "available": True, "jobs": [job.pk],
            "model": str(version) if version is not None else None}
