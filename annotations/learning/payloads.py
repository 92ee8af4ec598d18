"""A model's prediction as the editor and REST clients see it (one shape for both)."""

from __future__ import annotations

from annotations.models import Annotation, Frame, Prediction


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
    """The frame's predictions of its first person, one per model version: the active model's first, then the newest."""
    return people_predictions(frame, K, limit).get(0, [])


def people_predictions(frame: Frame, K: int, limit: int | None = None,
                       people: list[Annotation] | None = None) -> dict[int, list[dict]]:
    """{person instance: that person's predictions, one per model version, the active model's first}.

    A prediction made in a person's box (signals "annotation_id") belongs to that person whatever its
    own instance number: the numbers follow the order the boxes were predicted in, which a removed
    and re-added person changes. Others (made on the whole frame) keep their instance. `people`: the
    frame's annotations where the caller has read them already.
    """
    instance_of: dict[object, int] = ({a.pk: a.instance for a in people} if people is not None else
                                      dict(Annotation.objects.filter(frame=frame).values_list("pk", "instance")))
    rows = list(Prediction.objects.filter(frame=frame).select_related("model_version")
                .order_by("-model_version__is_active", "-created_at", "instance"))

    def box_of(p: Prediction) -> object:
        return (p.signals or {}).get("annotation_id")

    owner = {p.pk: instance_of.get(box_of(p), p.instance) for p in rows}
    # One per (person, model version): one made in the person's own box before one of a removed person.
    rows.sort(key=lambda p: (p.model_version_id, box_of(p) not in instance_of))
    chosen: dict[tuple[int, int], Prediction] = {}
    for p in rows:
        chosen.setdefault((owner[p.pk], p.model_version_id), p)
    out: dict[int, list[dict]] = {}
    for p in sorted(chosen.values(), key=lambda p: (not p.model_version.is_active, -p.created_at.timestamp())):
        mine = out.setdefault(owner[p.pk], [])
        if limit is None or len(mine) < limit:
            mine.append({**prediction_payload(p, K), "instance": owner[p.pk]})
    return dict(sorted(out.items()))
