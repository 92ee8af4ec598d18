"""Built-in keypoint model vs MediaPipe on the same frames (held-out clips), overall and per keypoint.

Run after bench/mlcore_keypoints.py and bench/mlcore_mediapipe.py:
    .venv/bin/python bench/mlcore_compare.py
Both predict from the whole frame (no human box). "all" = the 210 annotated
frames, a frame without a MediaPipe detection counting OKS 0; "mp_detected" =
only the frames where MediaPipe found a person.
"""

from __future__ import annotations

import numpy as np
from mlcore_common import emit, load_barbell, out_dir

from mlcore import coco, metrics
from mlcore.skeletons import COCO17


def per_frame(data, preds):
    table = coco.keypoint_table(data)
    matched = metrics.match_predictions(data, preds, COCO17.sigma_array)
    ks = np.full((len(table), 17), np.nan)
    for i, m in enumerate(matched):
        if m["result"] is not None:
            kp = np.asarray(preds[m["result"]]["keypoints"], float).reshape(1, 17, 3)
            ks[i] = metrics.oks_per_keypoint(kp, table.keypoints[i:i + 1], table.areas[i:i + 1], COCO17.sigma_array)[0]
    return np.array([m["oks"] for m in matched]), np.array([m["result"] is not None for m in matched]), ks


def main() -> None:
    data, _ = load_barbell()
    builtin = coco.load_coco(out_dir() / "builtin_preds_frame.json")
    mp = coco.load_coco(out_dir() / "mediapipe_preds.json")
    b_oks, _, b_ks = per_frame(data, builtin)
    m_oks, m_det, m_ks = per_frame(data, mp)
    for subset, rows in (("all", np.ones(len(b_oks), bool)), ("mp_detected", m_det)):
        emit(f"compare.{subset}.builtin_mean_oks", round(float(b_oks[rows].mean()), 4), "oks", frames=int(rows.sum()))
        emit(f"compare.{subset}.mediapipe_mean_oks", round(float(m_oks[rows].mean()), 4), "oks", frames=int(rows.sum()))
        emit(f"compare.{subset}.builtin_oks_ge_0.5", round(float((b_oks[rows] >= 0.5).mean()), 4), "share")
        emit(f"compare.{subset}.mediapipe_oks_ge_0.5", round(float((m_oks[rows] >= 0.5).mean()), 4), "share")
    for k, name in enumerate(COCO17.keypoints):
        emit(f"compare.mp_detected.keypoint_oks.{name}", {"builtin": round(float(np.nanmean(b_ks[m_det, k])), 4),
                                                         "mediapipe": round(float(np.nanmean(m_ks[m_det, k])), 4)},
             "oks", frames=int(m_det.sum()))


if __name__ == "__main__":
    main()
