"""Synthetic poses and frames for fast, learnable test cases."""

from __future__ import annotations

import numpy as np

from mlcore.skeletons import COCO17

INDEX = {n: i for i, n in enumerate(COCO17.keypoints)}


def side_pose(rng, bent: bool, x0=100.0, y0=100.0, scale=1.0, face_right=True) -> np.ndarray:
    """A side-view COCO-17 pose (17, 3); ``bent`` drops the head below the shoulders (the class signal)."""
    s = 1 if face_right else -1
    head_drop = 25 if bent else -20
    pts = {
        "left_hip": (0, 0), "right_hip": (3, 2), "left_shoulder": (s * 60, -40), "right_shoulder": (s * 63, -38),
        "nose": (s * 90, -40 + head_drop), "left_eye": (s * 88, -44 + head_drop),
        "right_eye": (s * 89, -43 + head_drop), "left_ear": (s * 78, -42 + head_drop),
        "right_ear": (s * 79, -41 + head_drop),
        "left_elbow": (s * 60, 0), "right_elbow": (s * 62, 2), "left_wrist": (s * 60, 35), "right_wrist": (s * 62, 36),
        "left_knee": (s * 20, 45), "right_knee": (s * 22, 46), "left_ankle": (0, 90), "right_ankle": (2, 91),
    }
    kp = np.zeros((17, 3))
    for n, (x, y) in pts.items():
        kp[INDEX[n]] = (x0 + scale * x + rng.normal(0, 2), y0 + scale * y + rng.normal(0, 2), 2)
    return kp


def pose_coco(n_per_class: int = 20, clips_per_class: int = 4, seed: int = 0) -> dict:
    """A COCO dict of synthetic side poses, labelled "correct"/"lumbar_error", grouped in clips."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for label_i, label in enumerate(("correct", "lumbar_error")):
        for j in range(n_per_class):
            clip = f"{label_i}{j % clips_per_class}_{label_i}"
            kp = side_pose(rng, bent=label_i == 1, x0=rng.uniform(80, 200), y0=rng.uniform(80, 150),
                           scale=rng.uniform(0.8, 1.3), face_right=rng.random() < 0.5)
            iid = len(images) + 1
            images.append({"id": iid, "file_name": f"{clip}_{j}.jpg", "width": 320, "height": 240})
            lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
            anns.append({"id": iid, "image_id": iid, "category_id": 1, "keypoints": kp.ravel().tolist(),
                         "bbox": [*lo, *(hi - lo)], "area": float(np.prod(hi - lo)), "iscrowd": 0,
                         "num_keypoints": 17, "attributes": {"form_label": label}})
    return {"categories": [COCO17.coco_category()], "images": images, "annotations": anns}


def blob_frames(tmp_path, n: int = 24, seed: int = 0, size=(64, 48)) -> dict:
    """Frames with two white blobs; "left_dot" is the one further left, "right_dot" the other.

    Like a body's sides, the names follow geometry, so a mirrored frame with
    swapped names is again a valid sample (what flip augmentation relies on).
    Writes PNGs under tmp_path/frames and returns the COCO dict.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    (tmp_path / "frames").mkdir(exist_ok=True)
    images, anns = [], []
    for i in range(n):
        pts = rng.uniform([8, 8], [w - 8, h - 8], size=(2, 2))
        pts = pts[np.argsort(pts[:, 0])]
        img = np.zeros((h, w, 3), np.float64)
        for x, y in pts:
            img += 255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.5 ** 2))[..., None]
        img = np.clip(img, 0, 255).astype(np.uint8)
        name = f"dots_{i // 4}_{i}.png"
        Image.fromarray(img).save(tmp_path / "frames" / name)
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [0, 0, w, h], "area": float(w * h),
                     "keypoints": [pts[0, 0], pts[0, 1], 2, pts[1, 0], pts[1, 1], 2], "iscrowd": 0})
    cat = {"id": 1, "name": "dots", "keypoints": ["left_dot", "right_dot"], "skeleton": [[1, 2]]}
    return {"categories": [cat], "images": images, "annotations": anns}
