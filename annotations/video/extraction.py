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

import os

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from annotations.core.errors import InputError
from annotations.core.jobs import start_job
from annotations.core.params import truthy
from annotations.models import Clip, Frame, FrameStatus, Job, Project, Video
from annotations.video.decode import DecodeStats, Selection, VideoProblem, decode, probe
from annotations.video.frame_writer import FrameWriter, keep_video_file
from annotations.video.naming import CLIP_UNSAFE, check_video_file_name, clip_of, safe_video_name, unique_video_name

# -- parameters -----------------------------------------------------------------------------------

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
               "preannotate": truthy(get("preannotate", ""))}
    clip = (get("clip") or "").strip()
    if clip:
        if CLIP_UNSAFE.search(clip) or clip.startswith(("_", "-")):
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
    check_video_file_name(source_name)
    return start_job(project, Job.Kind.EXTRACT, {"upload": upload_name, "source_name": source_name, **options},
                     user, run_now=run_now)


def start_reextraction(video: Video, options: dict, user=None, *, run_now: bool = False) -> Job:
    """Queue a new extraction of a stored video (another rate); annotated frames stay."""
    if not video.file:
        raise InputError(f"video {video.name} has no stored file to extract from")
    options = {k: v for k, v in options.items() if k not in ("video",)}
    return start_job(video.project, Job.Kind.EXTRACT, {"video_id": video.pk, **options}, user, run_now=run_now)


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
        video_name = unique_video_name(project, safe_video_name(video_name, clip_key, source_name or label))
        clip_key = clip_key or f"{video_name}_1"
    else:
        clip_key = clip_key or clip_of(video)
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
                if not upload_name or video_name is None:  # both are set above for a new video
                    raise InputError("a new video needs its uploaded file")
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
    count = (Frame.objects.filter(pk__in=list(doomed.values_list("pk", flat=True))).delete()[1]
             .get("annotations.Frame", 0))

    def remove_files() -> None:
        for n in files:
            default_storage.delete(n)

    transaction.on_commit(remove_files)
    return count


# -- files ----------------------------------------------------------------------------------------

# -- pre-annotation -------------------------------------------------------------------------------
