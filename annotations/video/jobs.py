"""Video job kinds: frame extraction and interpolation."""

from __future__ import annotations

import os

from annotations.core.errors import InputError
from annotations.core.files import local_file, remove_upload
from annotations.core.jobs import job_handler
from annotations.models import Clip, Job, Role, Video
from annotations.video.extraction import extract, selection_of
from annotations.video.interpolation import interpolate_clip, parse_frame_id, temporal_summary
from annotations.video.preannotation import preannotate
from annotations.video.temporal import check_and_feed


@job_handler(Job.Kind.EXTRACT, role=Role.PI, time_limit=4 * 3600)
def run_extract(job: Job) -> dict:
    """Job handler for kind "extract". params: upload + source_name, or video_id; selection, clip, video,
    preannotate. Returns the summary (also printed by import_video)."""
    p = job.params
    project = job.project
    if project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    selection = selection_of(p)
    if p.get("video_id"):
        video = Video.objects.filter(project=project, pk=p["video_id"]).first()
        if video is None:
            raise InputError(f"video {p['video_id']} does not exist in {project.slug}")
        if not video.file.name:
            raise InputError(f"video {video.name} has no stored file to extract from")
        with local_file(video.file.name) as path:
            result = extract(project, path, label=video.source_name or video.name, selection=selection,
                             video=video, clip_key=p.get("clip"), job=job)
    else:
        upload = p["upload"]
        try:
            with local_file(upload) as path:
                result = extract(project, path, label=p.get("source_name") or os.path.basename(upload),
                                 selection=selection, video_name=p.get("video"), clip_key=p.get("clip"),
                                 source_name=p.get("source_name") or "", upload_name=upload, job=job)
        finally:
            remove_upload(upload)  # kept as the video's file on success (moved), useless on failure
    result["preannotation"] = preannotate(project, result["new_frame_ids"], job.created_by) \
        if p.get("preannotate") else {"requested": False}
    result["new_frame_ids"] = result["new_frame_ids"][:1000]
    job.message = (f"{result['frames']} frames of clip {result['clip']} ({result['new_frames']} new, "
                   f"{result['kept_frames']} kept, {result['removed_frames']} removed)")
    return result


@job_handler(Job.Kind.INTERPOLATE, role=Role.ANNOTATOR, time_limit=1800)
def run_interpolate(job: Job) -> dict:
    """params: clip (key), start_frame / end_frame (frame ids, optional), method ("linear").
    Runs the temporal check on the clip afterwards."""
    p = job.params
    project = job.project
    if project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    clip = Clip.objects.filter(project=project, key=p.get("clip")).first()
    if clip is None:
        raise InputError(f"no clip {p.get('clip')!r} in {project.slug}")
    method = p.get("method") or "linear"
    if method != "linear":
        raise InputError(f"unknown method {method!r}; only linear interpolation is available")
    result = interpolate_clip(project, clip, start_frame=parse_frame_id(p.get("start_frame")),
                              end_frame=parse_frame_id(p.get("end_frame")), user=job.created_by, job=job)
    result["method"] = method
    result["temporal"] = temporal_summary(check_and_feed(clip))
    job.message = (f"{result.get('created', 0)} frames filled, {result.get('updated', 0)} refreshed, "
                   f"{result.get('kept', 0)} human annotations kept; "
                   f"{len(result['temporal']['flagged'])} frames with jumping keypoints")
    return result
