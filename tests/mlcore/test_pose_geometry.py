"""PoseGeometry against hand-computed directions, cosines and offsets of a stick figure."""

import numpy as np
import torch

from mlcore.nets.pose_geometry import JOINTS, OFFSETS, POINTS, SEGMENTS, PoseGeometry, geometry_supported
from mlcore.skeletons import COCO17, COCO17_SPINE

# A stick figure in normalised units (x right, y down), both sides on top of each other.
BODY = {"nose": (1.5, -1.0), "ear": (1.0, -1.0), "shoulder": (1.0, 0.0), "hip": (0.0, 0.0), "knee": (0.0, 1.0),
        "ankle": (0.0, 2.0), "elbow": (1.0, 1.0), "wrist": (2.0, 1.0)}


def pose(skip: tuple[str, ...] = ()) -> torch.Tensor:
    """(1, 17, 3) COCO-17 input with both members of each pair at BODY's point."""
    x = np.zeros((1, 17, 3), np.float32)
    for point, members in POINTS.items():
        for name in members:
            if name not in skip:
                x[0, COCO17.keypoints.index(name)] = [*BODY[point], 1.0]
    return torch.from_numpy(x)


def features(x) -> dict:
    out = PoseGeometry(COCO17)(x)[0].numpy()
    names = [f"{a}-{b}.{c}" for a, b in SEGMENTS for c in ("x", "y", "ok")]
    names += [f"angle {a}-{b}-{c}" for a, b, c in JOINTS]
    names += [f"offset {a}-{b}.{c}" for a, b in OFFSETS for c in ("x", "y")]
    assert len(names) == len(out)
    return dict(zip(names, out.tolist()))


def test_directions_cosines_and_offsets_match_hand_computation():
    f = features(pose())
    assert np.allclose([f["shoulder-hip.x"], f["shoulder-hip.y"], f["shoulder-hip.ok"]], [1, 0, 1], atol=1e-5)
    assert np.allclose([f["knee-hip.x"], f["knee-hip.y"]], [0, 1], atol=1e-5)
    assert np.allclose([f["wrist-knee.x"], f["wrist-knee.y"]], [1, 0], atol=1e-5)
    assert np.allclose([f["nose-shoulder.x"], f["nose-shoulder.y"]], [0.5 / np.sqrt(1.25), -1 / np.sqrt(1.25)],
                       atol=1e-5)
    assert abs(f["angle shoulder-hip-knee"]) < 1e-5          # trunk horizontal, thigh vertical: 90 degrees
    assert abs(f["angle hip-knee-ankle"] + 1) < 1e-5          # straight leg: 180 degrees
    assert abs(f["angle shoulder-elbow-wrist"]) < 1e-5        # elbow at 90 degrees
    assert abs(f["angle ear-shoulder-hip"]) < 1e-5            # head up, trunk back: 90 degrees
    assert np.allclose([f["offset hip-ankle.x"], f["offset hip-ankle.y"], f["offset shoulder-ankle.x"],
                        f["offset wrist-knee.x"]], [0, -2, 1, 2], atol=1e-5)


def test_one_labelled_member_stands_for_its_pair_and_missing_points_zero_their_features():
    one_side = features(pose(skip=("right_knee", "right_hip")))
    assert np.allclose(one_side["knee-hip.y"], 1, atol=1e-5)
    no_ankles = features(pose(skip=("left_ankle", "right_ankle")))
    assert no_ankles["ankle-knee.ok"] == 0 and no_ankles["ankle-knee.x"] == 0 and no_ankles["ankle-knee.y"] == 0
    assert no_ankles["angle hip-knee-ankle"] == 0 and no_ankles["offset hip-ankle.y"] == 0
    assert no_ankles["shoulder-hip.ok"] == 1


def test_supported_skeletons_are_those_with_coco_body_names():
    assert geometry_supported(COCO17) and geometry_supported(COCO17_SPINE)
