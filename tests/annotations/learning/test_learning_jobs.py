"""Retrain, predict and score as jobs on the demo data, with tiny models (a few seconds of training).

The jobs run through annotations.core.jobs.run_job, the code a Celery worker runs; the chain through a
real worker is in test_learning_worker.py.
"""

import json

import pytest

from annotations.core.jobs import run_job
from annotations.models import (
    Annotation,
    Frame,
    FrameStatus,
    Job,
    ModelKind,
    ModelStatus,
    ModelVersion,
    Prediction,
)
from mlcore.skeletons import COCO17

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

# Tiny enough for a test (seconds per model on a busy 2-core machine), big enough to learn something.
TINY_KEYPOINTS = {"backbone": "scratch", "epochs": 2, "width": 8, "hidden": 32, "input_size": [32, 48],
                  "batch_size": 32, "patience": 5}
TINY_FORM = {"epochs": 15, "hidden": 8}
# A keypoint model that cannot learn: its weights stay at their random start.
FROZEN_KEYPOINTS = {**TINY_KEYPOINTS, "lr": 0.0, "epochs": 1}


def run(project, kind: str, user=None, **params) -> Job:
    job = Job.objects.create(project=project, kind=kind, params=params, created_by=user)
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", (job.message, job.traceback)
    return job


def retrain(project, user=None, keypoints=TINY_KEYPOINTS, **params) -> Job:
    params.setdefault("form_config", TINY_FORM)
    params.setdefault("chain", False)
    return run(project, "retrain", user, keypoint_config=keypoints, **params)


def annotations_snapshot(project) -> str:
    rows = Annotation.objects.filter(project=project).order_by("id").values_list(
        "id", "keypoints", "keypoint_states", "bbox", "form_label_id", "version", "updated_at")
    return json.dumps([list(r) for r in rows], default=str)


@pytest.fixture
def retrained(imported, users):
    """The demo project after one tiny retrain job (keypoint model and form classifier active)."""
    job = retrain(imported, users["pi"])
    imported.retrain_job = job
    return imported


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """A tiny keypoint model and form classifier trained once per session on the demo clips (no database).

    Tests that need *a* trained model register these instead of paying for a retrain each time.
    """
    from annotations.learning.training import form_config, keypoint_config, train_form_model, train_keypoint_model
    from mlcore import coco
    from tests.conftest import CORRECT_JSON, DATASET, LUMBAR_JSON

    if not DATASET.is_dir():
        pytest.skip("barbell-row dataset not found")
    data = coco.merge_coco([coco.load_coco(CORRECT_JSON), coco.load_coco(LUMBAR_JSON)],
                           form_labels=["correct", "lumbar_error"], file_prefixes=["correct", "lumbar"])
    root = tmp_path_factory.mktemp("tiny-models")
    train_keypoint_model(data, None, DATASET / "images", root / "keypoints", COCO17, keypoint_config(TINY_KEYPOINTS))
    train_form_model(data, None, root / "form", COCO17, form_config(TINY_FORM))
    return root


def register_models(project, dirs, user=None) -> dict:
    """ModelVersions (number 1, active) with the files of `dirs`, as a retrain would leave them."""
    from annotations.learning.artifacts import store_model_dir
    from annotations.learning.promotion import activate

    out = {}
    for kind in ("keypoints", "form"):
        version = ModelVersion.objects.create(project=project, kind=kind, number=1, status=ModelStatus.READY,
                                              keypoint_names=list(COCO17.keypoints), created_by=user)
        store_model_dir(version, dirs / kind)
        out[kind] = activate(version)
    return out


@pytest.fixture
def trained(imported, users, tiny_model_dirs):
    """The demo project with an active tiny keypoint model and form classifier."""
    register_models(imported, tiny_model_dirs, users["pi"])
    return imported


def test_a_retrain_trains_measures_on_held_out_clips_and_promotes_the_first_models(retrained):
    trained = retrained
    job = trained.retrain_job
    kp = ModelVersion.objects.get(project=trained, kind=ModelKind.KEYPOINTS)
    form = ModelVersion.objects.get(project=trained, kind=ModelKind.FORM)
    assert kp.status == form.status == ModelStatus.READY and kp.is_active and form.is_active
    assert kp.number == form.number == 1 and kp.job_id == job.pk
    assert kp.promotion["promoted"] and kp.promotion["reason"] == "there was no active model"
    # Artifacts went through storage: torch checkpoint, ONNX and INT8 ONNX for both models.
    for v in (kp, form):
        assert v.checkpoint.name.endswith("model.pt") and v.onnx.name.endswith("model.onnx")
        assert v.onnx_int8.name.endswith("model.int8.onnx") and v.onnx.storage.exists(v.onnx.name)
    # Held out: the test clips of the split version it used; none of their frames was trained on.
    split = kp.split_version
    test_clips = set(split.assignments.filter(subset="test").values_list("clip__key", flat=True))
    train_clips = set(split.assignments.filter(subset="train").values_list("clip__key", flat=True))
    annotated_test = set(Frame.objects.filter(project=trained, clip__key__in=test_clips, annotations__isnull=False)
                         .values_list("clip__key", flat=True))
    assert set(kp.heldout_clips) == annotated_test and not set(kp.heldout_clips) & train_clips
    train_frames = Frame.objects.filter(project=trained, clip__key__in=train_clips, annotations__isnull=False).count()
    assert kp.training_frames == job.result["training_frames"] == train_frames
    # Metrics on the held-out frames: keypoints (OKS-AP, PCK, error per keypoint incl. spine) and form.
    heldout = Frame.objects.filter(project=trained, clip__key__in=kp.heldout_clips, annotations__isnull=False).count()
    report = kp.metrics["keypoints"]
    assert kp.metrics["heldout_frames"] == heldout == report["gt_instances"] > 0
    assert 0 <= report["oks_ap"]["AP"] <= 1 and 0 < report["mean_oks"] < 1 and "pck@0.1" in report
    assert set(report["per_keypoint_mean_error"]) == set(trained.skeleton["keypoints"])
    assert report["per_keypoint_mean_error"]["spine_03"] is None  # nobody verified spine points in the demo
    assert report["per_keypoint_mean_error"]["left_hip"] > 0
    f = form.metrics["form"]
    assert f["labels"] == ["correct", "lumbar_error"] and sum(map(sum, f["confusion_matrix"])) == heldout
    # Spine points nobody verified are not learned: the model has the 17 COCO points.
    assert kp.keypoint_names == list(COCO17.keypoints) == kp.meta["skeleton"]["keypoints"]


def test_a_worse_model_is_not_promoted_a_better_one_is_and_a_pi_can_still_activate_it(imported, users):
    frozen = retrain(imported, users["pi"], FROZEN_KEYPOINTS, skip_form=True)
    v1 = ModelVersion.objects.get(project=imported, number=1)
    assert v1.is_active and frozen.result["models"]["keypoints"]["reason"] == "there was no active model"

    retrain(imported, users["pi"], skip_form=True)
    v2 = ModelVersion.objects.get(project=imported, number=2)
    v1.refresh_from_db()
    assert v2.is_active and not v1.is_active
    assert v2.promotion["reason"].startswith("beats keypoints v1 on the same held-out clips")
    assert tuple(v2.promotion["candidate"]) > tuple(v2.promotion["active"])

    retrain(imported, users["pi"], FROZEN_KEYPOINTS, skip_form=True)
    v3 = ModelVersion.objects.get(project=imported, number=3)
    v2.refresh_from_db()
    assert not v3.is_active and v2.is_active and v3.status == ModelStatus.READY
    assert v3.promotion["promoted"] is False and "does not beat keypoints v2" in v3.promotion["reason"]
    assert tuple(v3.promotion["candidate"]) <= tuple(v3.promotion["active"])
    # Both were measured on the same held-out frames.
    assert v3.promotion["heldout_frames"] == v2.promotion["heldout_frames"] == v3.metrics["heldout_frames"]

    from tests.conftest import api_client

    response = api_client(users["reviewer"]).post(f"/api/projects/demo/models/{v3.pk}/activate/")
    assert response.status_code == 403
    response = api_client(users["pi"]).post(f"/api/projects/demo/models/{v3.pk}/activate/", {}, format="json")
    assert response.status_code == 200 and response.json()["model"]["is_active"]
    v2.refresh_from_db()
    assert not v2.is_active and ModelVersion.active(imported, "keypoints") == v3


def test_a_forced_retrain_is_promoted_even_when_worse(trained, users):
    job = retrain(trained, users["pi"], FROZEN_KEYPOINTS, skip_form=True, force=True)
    v2 = ModelVersion.objects.get(project=trained, kind="keypoints", number=2)
    assert v2.is_active and v2.promotion["reason"] == "forced by pi"
    assert job.result["models"]["keypoints"]["promoted"] is True


def test_form_promotion_compares_on_the_same_held_out_frames_both_ways(trained, users, monkeypatch):
    from annotations.learning import promotion

    active = ModelVersion.active(trained, "form")
    candidate = ModelVersion.objects.create(project=trained, kind="form", number=9, status="ready",
                                            metrics={"form": {"f1_macro": 0.5, "accuracy": 0.6}})
    seen = []

    def fake_evaluate(version, gt, images):
        seen.append((version.pk, len(gt["images"])))
        return {"f1_macro": 0.7, "accuracy": 0.7}

    monkeypatch.setattr(promotion, "evaluate_version", fake_evaluate)
    gt = {"images": [{"id": 1}, {"id": 2}], "annotations": []}
    decision = promotion.decide(candidate, gt, None)
    assert seen == [(active.pk, 2)] and decision["promoted"] is False
    assert ModelVersion.active(trained, "form") == active
    candidate.metrics = {"form": {"f1_macro": 0.8, "accuracy": 0.5}}
    decision = promotion.decide(candidate, gt, None)
    assert decision["promoted"] is True and ModelVersion.active(trained, "form") == candidate


def test_predict_stores_predictions_with_confidence_and_form_probabilities_and_never_touches_annotations(
        trained, users):
    before = annotations_snapshot(trained)
    clips = ["52723_8", "52916_12"]  # an annotated clip and one of the pool
    frames = Frame.objects.filter(project=trained, clip__key__in=clips)
    pool_before = set(frames.filter(status=FrameStatus.UNLABELLED).values_list("id", flat=True))
    job = run(trained, "predict", users["reviewer"], clips=clips, then_score=False)
    kp = ModelVersion.active(trained, "keypoints")
    preds = Prediction.objects.filter(project=trained)
    assert job.result["frames"] == frames.count() and job.result["predictions"] == preds.count() == frames.count()
    assert set(preds.values_list("model_version_id", flat=True)) == {kp.pk}
    K = trained.num_keypoints
    for p in preds[:20]:
        assert len(p.keypoints) == K and all(0 <= s <= 1 for s in p.confidence)
        assert p.heuristic_keypoints == list(range(17, 24))  # spine points from the heuristic, score 0
        assert all(p.keypoints[i][2] == 0 for i in p.heuristic_keypoints)
        assert set(p.form_probs) == {"correct", "lumbar_error"} and abs(sum(p.form_probs.values()) - 1) < 1e-3
        assert p.form_model_version == ModelVersion.active(trained, "form")
        assert {"confidence", "flip", "temporal", "form"} <= set(p.signals)
    # Annotated frames are predicted in the person's box and compared with the person's points.
    human = preds.filter(frame__annotations__isnull=False)
    assert human.exists() and all(p.boxes == "human" and "label_error" in p.signals for p in human)
    assert annotations_snapshot(trained) == before
    assert set(Frame.objects.filter(pk__in=pool_before).values_list("status", flat=True)) == {FrameStatus.PREANNOTATED}
    # A rerun replaces this version's predictions instead of piling them up.
    run(trained, "predict", users["reviewer"], clips=clips[:1], then_score=False)
    assert Prediction.objects.filter(project=trained).count() == frames.count()


def test_predict_then_score_queues_a_score_job(trained, users):
    job = run(trained, "predict", users["reviewer"], clips=["52723_8"])
    score = Job.objects.get(pk=job.result["next_job"])
    assert score.kind == "score" and score.status == "queued" and score.params == {"model_version": job.result[
        "model_version_id"]}


def test_the_editor_can_fetch_a_frames_predictions_with_the_reasons(trained, users):
    from tests.conftest import api_client

    run(trained, "predict", users["reviewer"], clips=["52723_8"], then_score=False)
    frame = Frame.objects.filter(project=trained, clip__key="52723_8").first()
    body = api_client(users["annotator"]).get(f"/api/projects/demo/frames/{frame.pk}/predictions/").json()
    assert len(body) == 1 and body[0]["model_version"] == "keypoints v1" and body[0]["active"]
    assert len(body[0]["keypoints"]) == 3 * trained.num_keypoints and len(body[0]["scores"]) == trained.num_keypoints
    # a heuristic spine point is shown where the heuristic put it, marked as such and scored 0
    assert 20 in body[0]["heuristic"] and body[0]["scores"][20] == 0 and body[0]["keypoints"][3 * 20 + 2] == 2
    assert "confidence" in body[0]["signals"] and "keypoints" not in body[0]["signals"]


def test_mc_dropout_passes_add_the_spread_signal(trained, users):
    run(trained, "predict", users["reviewer"], clips=["52916_12"], then_score=False, mc_samples=3, flip_test=False)
    preds = list(Prediction.objects.filter(project=trained))
    assert preds and all(p.signals.get("spread") is not None and "flip" not in p.signals for p in preds)
    assert all(len(p.signals["keypoints"]["spread"]) == 17 for p in preds)
