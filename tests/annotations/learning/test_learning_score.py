"""The score job on predictions whose signals we control: queue order, the reasons stored with each
item, and label errors where a confident model disagrees with a person."""

import numpy as np
import pytest

from annotations.models import Annotation, Frame, FrameStatus, ModelStatus, ModelVersion, Prediction, Queue, QueueItem
from annotations.review import editing
from mlcore.skeletons import COCO17
from tests.annotations.learning.test_learning_jobs import run

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def model(project, number=1) -> ModelVersion:
    return ModelVersion.objects.create(project=project, kind="keypoints", number=number, status=ModelStatus.READY,
                                       is_active=True, keypoint_names=list(COCO17.keypoints),
                                       meta={"skeleton": COCO17.to_dict()})


def predict_like(project, version, frame, keypoints17: np.ndarray, scores: np.ndarray, boxes="frame", ann=None):
    """A stored prediction: 17 points (x, y) with `scores`, spine points as heuristic (score 0)."""
    K = project.num_keypoints
    kp = [[float(x), float(y), float(s)] for (x, y), s in zip(keypoints17, scores)] + [[0.0, 0.0, 0.0]] * (K - 17)
    signals = {"keypoints": {"confidence": list(1 - scores)}, "keypoint_names": list(COCO17.keypoints)}
    if ann is not None:
        signals["annotation_id"] = ann.pk
    return Prediction.objects.create(project=project, frame=frame, model_version=version, keypoints=kp,
                                     bbox=[0, 0, frame.width, frame.height], score=float(scores.mean()),
                                     heuristic_keypoints=list(range(17, K)), signals=signals, boxes=boxes)


@pytest.fixture
def pool_clips(imported):
    """Three clips of the unlabelled pool, their frames in order."""
    keys = ["52916_12", "52930_2", "53055_1"]
    return {k: list(Frame.objects.filter(project=imported, clip__key=k).order_by("frame_index")) for k in keys}


def test_the_uncertain_queue_follows_confidence_at_most_two_frames_per_clip_first(imported, users, pool_clips):
    version = model(imported)
    still = np.tile([[100.0, 200.0]], (17, 1))  # no motion: the temporal signal ties everywhere
    doubt = {}
    rng = np.random.default_rng(0)
    for frames in pool_clips.values():
        for f in frames:
            score = float(rng.uniform(0.05, 0.95))
            doubt[f.pk] = 1 - score
            predict_like(imported, version, f, still, np.full(17, score))
    job = run(imported, "score", users["reviewer"])
    items = list(QueueItem.objects.filter(project=imported, queue=Queue.UNCERTAIN, done_at__isnull=True)
                 .order_by("-priority"))
    assert len(items) == sum(len(v) for v in pool_clips.values()) == job.result["uncertain"]["frames"]
    order = [i.frame_id for i in items]
    clip_of = {f.pk: k for k, frames in pool_clips.items() for f in frames}
    # The head takes the two most doubtful frames of each clip, most doubtful first ...
    head = order[:6]
    expected_head = sorted([f for k in pool_clips for f in sorted((f.pk for f in pool_clips[k]),
                                                                    key=lambda x: -doubt[x])[:2]],
                           key=lambda x: -doubt[x])
    assert head == expected_head
    # ... then everything else by doubt.
    assert order[6:] == sorted(order[6:], key=lambda x: -doubt[x])
    assert all(sum(clip_of[f] == k for f in head) == 2 for k in pool_clips)
    top = items[0].signals
    assert top["rank"] == f"1 of {len(items)}" and top["model"] == "keypoints v1"
    assert top["confidence"] == pytest.approx(doubt[order[0]], abs=1e-3) and top["main_signal"] == "confidence"
    assert set(top) >= {"uncertainty", "temporal", "doubtful_points"}
    # The frame's own priority is its combined uncertainty (the new pre-annotated queue orders by it).
    f0 = Frame.objects.get(pk=order[0])
    assert f0.priority == pytest.approx(top["uncertainty"], abs=1e-3)


def test_a_confident_model_that_disagrees_with_a_person_flags_a_label_error(imported, users):
    version = model(imported)
    anns = list(Annotation.objects.filter(project=imported, frame__clip__key="52723_8").select_related("frame")[:4])
    for ann in anns:
        kp = np.asarray(ann.keypoints, dtype=float).reshape(-1, 3)[:17]
        predict_like(imported, version, ann.frame, kp[:, :2], np.full(17, 0.9), boxes="human", ann=ann)
    # A person drags five joints of one frame 80 pixels away: the model (which agrees with the old
    # labels) now confidently disagrees there.
    bad = anns[1]
    kp = list(bad.keypoints)
    moved = ["left_hip", "right_hip", "left_knee", "right_knee", "left_ankle"]
    for name in moved:
        i = imported.skeleton["keypoints"].index(name)
        kp[3 * i] += 80
    editing.save_edit(bad.pk, users["annotator"], {"keypoints": kp}, bad.version)
    job = run(imported, "score", users["reviewer"])
    items = list(QueueItem.objects.filter(project=imported, queue=Queue.LABEL_ERROR))
    assert [i.frame_id for i in items] == [bad.frame_id]
    assert job.result["label_error"] == {"checked": 4, "flagged": 1, "form_disagreements": 0}
    assert set(items[0].signals["suspect_joints"]) == set(moved)
    labelled = sum(1 for v in bad.keypoints[2:3 * 17:3] if v > 0)  # of the model's 17 points
    assert items[0].signals["label_error_score"] == pytest.approx(5 / labelled, abs=1e-3)
    assert Frame.objects.get(pk=bad.frame_id).status == FrameStatus.ANNOTATED


def test_scoring_without_predictions_says_what_to_do(imported, users):
    from annotations.core.jobs import run_job
    from annotations.models import Job

    job = Job.objects.create(project=imported, kind="score", created_by=users["pi"])
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "failed" and "run a predict job first" in job.message
