"""A model's prediction as the editor and REST clients see it (one shape for both)."""

from __future__ import annotations

from annotations.models import Frame, Prediction


def prediction_payload(p: Prediction, K: int) -> dict:
    """One prediction padded to the skeleton's K points.

    keypoints: flat 3K, v = 2 where the model placed the point (score > 0) or the spine heuristic
    did (listed in `heuristic`, score 0), v = 0 where it has no point; scores: K confidences;
    signals: the uncertainty signals that ranked the frame (per-keypoint detail left out). A
    prediction never changes the annotation: the person accepts points from it in the editor.
    """
    heuristic = {int(i) for i in p.heuristic_keypoints or []}
    flat, scores = [], []
    for i in range(K):
        x, y, score = p.keypoints[i] if i < len(p.keypoints) else (0, 0, 0)
        placed = score > 0 or i in heuristic
        flat += [round(float(x), 2), round(float(y), 2), 2 if placed else 0]
        scores.append(round(float(score), 3))
    return {"id": p.pk, "model_version": p.model_version.label, "model_version_id": p.model_version_id,
            "active": p.model_version.is_active, "keypoints": flat, "scores": scores, "bbox": p.bbox,
            "heuristic": sorted(heuristic), "form_probs": p.form_probs, "form_label": p.form_label,
            "signals": {k: v for k, v in (p.signals or {}).items() if k != "keypoints"},
            "created_at": p.created_at.isoformat() if p.created_at else None}


def frame_predictions(frame: Frame, K: int, limit: int | None = None) -> list[dict]:
    """The frame's predictions, one per model version: the active model's first, then the newest."""
    seen, out = set(), []
    for p in (Prediction.objects.filter(frame=frame, instance=0).select_related("model_version")
              .order_by("-model_version__is_active", "-created_at")):
        if p.model_version_id in seen:
            continue
        seen.add(p.model_version_id)
        out.append(prediction_payload(p, K))
        if limit is not None and len(out) >= limit:
            break
    return out
