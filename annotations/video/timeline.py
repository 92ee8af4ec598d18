"""The clip timeline's data: a clip's frames in order, their status, review priority, annotations
and temporal jumps, and where to open each one. Read-only."""

from __future__ import annotations

from annotations.models import Annotation, Clip, Frame, Project, Role
from annotations.video.interpolation import is_keyframe
from annotations.video.temporal import check_clip

WORST_LISTED = 12


def timeline_data(project: Project, clip: Clip, user) -> dict:
    """{clip, video, skeleton, frames: [...], worst: [frame ids], flagged: [frame ids], threshold, can_*}.

    Each frame: id, index, time, file_name, width, height, status, priority, image, thumbnail, editor,
    keyframe (a person labelled it), annotations [{id, instance, keypoints, keypoint_states, source,
    human_edited, form_label}], jump (null, or {score, keypoints, flagged}).
    """
    frames = list(Frame.objects.filter(clip=clip).order_by("frame_index", "file_name")
                  .values("id", "frame_index", "timestamp", "file_name", "width", "height", "status", "priority",
                          "image", "source_path", "thumbnail"))
    anns: dict[int, list[dict]] = {}
    keyframes = set()
    for ann in (Annotation.objects.filter(frame__clip=clip).select_related("form_label")
                .order_by("frame_id", "instance")):
        kpts, states = ann.padded_keypoints(project.num_keypoints)
        anns.setdefault(ann.frame_id, []).append({
            "id": ann.pk, "instance": ann.instance, "keypoints": kpts, "keypoint_states": states,
            "source": ann.source, "human_edited": ann.human_edited, "version": ann.version,
            "form_label": label.name if (label := ann.form_label) is not None else None,
        })
        if is_keyframe(ann):
            keyframes.add(ann.frame_id)
    jumps = check_clip(clip)
    base = f"/api/projects/{project.slug}/frames"
    out = []
    for f in frames:
        fid = f["id"]
        has_image = bool(f["image"] or f["source_path"])
        out.append({
            "id": fid, "index": f["frame_index"], "time": f["timestamp"], "file_name": f["file_name"],
            "width": f["width"], "height": f["height"], "status": f["status"], "priority": f["priority"],
            "image": f"{base}/{fid}/image/" if has_image else None,
            "thumbnail": (f"{base}/{fid}/thumbnail/" if f["thumbnail"]
                          else (f"{base}/{fid}/image/" if has_image else None)),
            "editor": f"/p/{project.slug}/frames/{fid}/edit/",
            "keyframe": fid in keyframes, "annotations": anns.get(fid, []), "jump": jumps["frames"].get(fid),
        })
    worst = sorted((f for f in out if f["priority"] > 0 or (f["jump"] and f["jump"]["flagged"])),
                   key=lambda f: (-(f["jump"]["flagged"] if f["jump"] else 0), -f["priority"], f["index"] or 0))
    video = clip.video
    skeleton = project.skeleton
    return {
        "project": project.slug, "clip": clip.key, "clip_id": clip.pk,
        "video": None if video is None else {"id": video.pk, "name": video.name, "fps": video.fps,
                                             "duration": video.duration, "rotation": video.rotation,
                                             "variable_frame_rate": video.variable_frame_rate,
                                             "width": video.width, "height": video.height, "codec": video.codec},
        "skeleton": {"keypoints": skeleton["keypoints"], "links": skeleton["links"],
                     "colours": skeleton.get("colours", [])},
        "threshold": jumps["threshold"], "flagged": jumps["flagged"],
        "worst": [f["id"] for f in worst[:WORST_LISTED]],
        "can_interpolate": project.has_role(user, Role.ANNOTATOR),
        "can_extract": project.has_role(user, Role.PI),
        "frames": out,
    }
