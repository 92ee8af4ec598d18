"""The project's mean pose: the template a person drops onto a frame that has no model prediction.

Each verified annotation (every placed point verified, at least half the skeleton placed) is
normalised to the box around its placed points (0..1 on both axes) and the boxes are averaged per
keypoint. With fewer than MIN_POSES such annotations a fixed standing pose stands in; keypoints the
project's annotations never placed take their place from it too. The editor fits the template to
a box the person drags.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from annotations.models import Annotation, KeypointState, Project

MIN_POSES = 5
MAX_POSES = 400  # the newest verified annotations are plenty for a mean
# The editor asks for the template with every frame it opens; reading and averaging 400 poses cost more
# than the rest of that request, and a mean of hundreds of poses barely moves in a few minutes.
CACHE_SECONDS = 300

# A person standing, facing the camera (their left on the image's right), in a unit box.
DEFAULT = {
    "nose": (0.5, 0.08), "left_eye": (0.53, 0.06), "right_eye": (0.47, 0.06), "left_ear": (0.57, 0.07),
    "right_ear": (0.43, 0.07), "left_shoulder": (0.66, 0.2), "right_shoulder": (0.34, 0.2),
    "left_elbow": (0.72, 0.35), "right_elbow": (0.28, 0.35), "left_wrist": (0.75, 0.49), "right_wrist": (0.25, 0.49),
    "left_hip": (0.6, 0.53), "right_hip": (0.4, 0.53), "left_knee": (0.61, 0.74), "right_knee": (0.39, 0.74),
    "left_ankle": (0.61, 0.96), "right_ankle": (0.39, 0.96), "neck": (0.5, 0.17), "hip": (0.5, 0.53),
    "head": (0.5, 0.03),
}
SPINE_TOP, SPINE_BOTTOM = 0.17, 0.53


def default_point(name: str, names: list[str]) -> tuple[float, float]:
    """The fixed template's point for `name`; spine_NN points are spread between the hip and the neck."""
    if name in DEFAULT:
        return DEFAULT[name]
    spine = sorted(n for n in names if n.startswith("spine"))
    if name in spine:
        k = spine.index(name) + 1
        return 0.5, round(SPINE_BOTTOM - k * (SPINE_BOTTOM - SPINE_TOP) / (len(spine) + 1), 4)
    return 0.5, 0.5


def normalised(kpts: list[float], K: int) -> list[tuple[float, float] | None] | None:
    """The placed points of one pose in the unit box around them (None where unplaced)."""
    placed = [(kpts[3 * i], kpts[3 * i + 1]) for i in range(K) if kpts[3 * i + 2] > 0]
    if len(placed) < max(2, K // 2):
        return None
    xs, ys = [p[0] for p in placed], [p[1] for p in placed]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    if w <= 0 or h <= 0:
        return None
    return [((kpts[3 * i] - min(xs)) / w, (kpts[3 * i + 1] - min(ys)) / h) if kpts[3 * i + 2] > 0 else None
            for i in range(K)]


def mean_pose(project: Project) -> dict:
    """{"source": "project" | "default", "poses": n, "keypoints": [x0, y0, x1, y1, ...] in 0..1}."""
    names = [str(n) for n in project.skeleton["keypoints"]]
    K = len(names)
    sums = [[0.0, 0.0, 0] for _ in range(K)]
    poses = 0
    rows = (Annotation.objects.filter(project=project).order_by("-updated_at")
            .values_list("keypoints", "keypoint_states")[:MAX_POSES])
    for keypoints, states in rows:
        kpts = list(keypoints) + [0, 0, 0] * max(K - len(keypoints) // 3, 0)
        if any(kpts[3 * i + 2] > 0 and (i >= len(states) or states[i] != KeypointState.VERIFIED) for i in range(K)):
            continue
        points = normalised(kpts, K)
        if points is None:
            continue
        poses += 1
        for i, p in enumerate(points):
            if p is not None:
                sums[i][0] += p[0]
                sums[i][1] += p[1]
                sums[i][2] += 1
    use_project = poses >= MIN_POSES
    flat: list[float] = []
    for i, (sx, sy, n) in enumerate(sums):
        x, y = (sx / n, sy / n) if use_project and n else default_point(names[i], names)
        flat += [round(x, 4), round(y, 4)]
    return {"source": "project" if use_project else "default", "poses": poses if use_project else 0,
            "keypoints": flat}


def cached_mean_pose(project: Project) -> dict:
    """mean_pose(project), kept in the cache (shared by every web process) for CACHE_SECONDS per skeleton."""
    names = "\x00".join(str(n) for n in project.skeleton["keypoints"])
    key = f"posereview:mean-pose:{project.pk}:{hashlib.sha1(names.encode()).hexdigest()[:16]}"
    template = cache.get(key)
    if template is None:
        template = mean_pose(project)
        cache.set(key, template, CACHE_SECONDS)
    return template
