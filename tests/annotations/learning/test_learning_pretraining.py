"""Pseudo-label pretraining in the retrain job: a teacher's stored predictions, never from held-out clips."""

import pytest
from django.test import Client

from annotations.core.errors import InputError
from annotations.learning.data import ensure_split
from annotations.learning.pretraining import MAX_PSEUDO_FRAMES, pseudo_label_set, teacher_for
from annotations.models import (
    Annotation,
    ClipSplit,
    Frame,
    Job,
    LearningSettings,
    ModelKind,
    ModelSource,
    ModelStatus,
    ModelVersion,
    Prediction,
)
from mlcore.skeletons import COCO17
from tests.annotations.learning.test_learning_jobs import retrain
from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def make_teacher(project, frames=None) -> ModelVersion:
    """A "MediaPipe" model whose stored predictions are the human keypoints (score 0.9; spine points
    heuristic, score 0) on annotated frames and one borrowed pose on every pool frame."""
    teacher = ModelVersion.objects.create(project=project, kind=ModelKind.KEYPOINTS, number=7,
                                          source=ModelSource.MEDIAPIPE, status=ModelStatus.READY,
                                          keypoint_names=list(COCO17.keypoints))
    k = project.get_skeleton().num_keypoints
    human = {}
    for ann in Annotation.objects.filter(project=project):
        kp, _ = ann.padded_keypoints(k)
        human[ann.frame_id] = [[kp[3 * i], kp[3 * i + 1], 0.9 if kp[3 * i + 2] > 0 and i < 17 else 0.0]
                               for i in range(k)]
    borrowed = next(iter(human.values()))
    qs = Frame.objects.filter(project=project).order_by("id")
    ids = list(qs.values_list("id", flat=True))[:frames] if frames else qs.values_list("id", flat=True)
    Prediction.objects.bulk_create([
        Prediction(project=project, frame_id=fid, model_version=teacher, keypoints=human.get(fid, borrowed),
                   bbox=[0, 0, 100, 100], score=0.9, heuristic_keypoints=list(range(17, k))) for fid in ids])
    return teacher


def held_out_frames(split) -> set[int]:
    clips = ClipSplit.objects.filter(version=split, subset__in=["val", "test"]).values_list("clip_id", flat=True)
    return set(Frame.objects.filter(clip_id__in=list(clips)).values_list("id", flat=True))


def test_pseudo_labels_leave_out_the_held_out_clips_and_the_heuristic_points(imported, users):
    teacher = make_teacher(imported)
    split = ensure_split(imported, users["pi"])
    pseudo = pseudo_label_set(imported, split, teacher)
    labelled = {a["image_id"] for a in pseudo["annotations"]}
    all_frames = set(Frame.objects.filter(project=imported).values_list("id", flat=True))
    assert held_out_frames(split) and labelled == all_frames - held_out_frames(split)
    # Every pseudo-labelled frame has a file to read; spine points (score 0) are unlabelled.
    assert set(pseudo["_paths"]) >= labelled
    k = imported.get_skeleton().num_keypoints
    for ann in pseudo["annotations"][:50]:
        assert ann["keypoints"][3 * 17:] == [0.0] * 3 * (k - 17)
        assert ann["attributes"]["pseudo_label"] == teacher.label


def test_a_large_pool_is_sampled_evenly_across_clips(imported, users):
    teacher = make_teacher(imported)
    split = ensure_split(imported, users["pi"])
    pseudo = pseudo_label_set(imported, split, teacher, max_frames=12)
    ids = [a["image_id"] for a in pseudo["annotations"]]
    assert len(ids) == len(set(ids)) == 12
    assert pseudo["_candidates"] == len(set(Frame.objects.filter(project=imported).values_list("id", flat=True))
                                        - held_out_frames(split))
    clips = set(Frame.objects.filter(pk__in=ids).values_list("clip_id", flat=True))
    assert len(clips) >= 10, "the sample should spread over the clips, not take the first ones"


def test_a_retrain_pretrains_on_the_teachers_pseudo_labels_then_trains_on_verified_frames(imported, users):
    teacher = make_teacher(imported)
    settings = LearningSettings.of(imported)
    settings.pretrain_model, settings.pretrain_epochs = teacher, 1
    settings.save()
    job = retrain(imported, users["pi"])
    kp = ModelVersion.objects.get(project=imported, kind=ModelKind.KEYPOINTS, job=job)
    expected = len(set(Frame.objects.filter(project=imported).values_list("id", flat=True))
                   - held_out_frames(kp.split_version))
    pre = kp.metrics["pretraining"]
    assert pre["predicted_frames_outside_heldout"] == expected
    assert pre["teacher_id"] == teacher.pk and pre["pseudo_frames"] == min(expected, MAX_PSEUDO_FRAMES)
    assert pre["epochs"] == 1
    assert "skipped" not in pre and pre["seconds"] > 0 and 0 <= pre["train_mean_oks_vs_pseudo"] <= 1
    # The verified-frame training started from the pretrained weights.
    assert kp.metrics["training"]["init_from"] and kp.status == ModelStatus.READY
    # The models page says so.
    client = Client()
    client.force_login(users["reviewer"])
    page = client.get("/p/demo/models/").content.decode()
    assert f"pretrained on {pre['pseudo_frames']} frames pseudo-labelled by {teacher.label} (1 epochs)" in page
    # The job can switch it off.
    job = retrain(imported, users["pi"], pretrain_model=None)
    kp = ModelVersion.objects.get(project=imported, kind=ModelKind.KEYPOINTS, job=job)
    assert "pretraining" not in kp.metrics and kp.metrics["training"]["init_from"] is None


def test_too_few_pseudo_labels_skip_pretraining_and_say_so(imported, users):
    teacher = make_teacher(imported, frames=5)
    job = retrain(imported, users["pi"], pretrain_model=teacher.pk)
    kp = ModelVersion.objects.get(project=imported, kind=ModelKind.KEYPOINTS, job=job)
    assert "fewer than 20" in kp.metrics["pretraining"]["skipped"] and kp.metrics["training"]["init_from"] is None


def test_the_teacher_must_be_a_keypoint_model_of_the_project(imported, users):
    settings = LearningSettings.of(imported)
    form = ModelVersion.objects.create(project=imported, kind=ModelKind.FORM, number=1, status=ModelStatus.READY)
    for bad in (form.pk, 10 ** 6, "x"):
        with pytest.raises(InputError, match="keypoint model"):
            teacher_for(imported, settings, {"pretrain_model": bad})
    assert teacher_for(imported, settings, {}) is None


def test_pis_choose_the_teacher_on_the_models_page(imported, users):
    teacher = make_teacher(imported, frames=1)
    client = Client()
    client.force_login(users["pi"])
    page = client.get("/p/demo/models/").content.decode()
    assert f'<option value="{teacher.pk}">{teacher.label}</option>' in page
    client.post("/p/demo/models/settings/", {"retrain_after": 50, "mc_samples": 0, "pretrain_model": teacher.pk,
                                             "pretrain_epochs": 12})
    settings = LearningSettings.of(imported)
    assert settings.pretrain_model_id == teacher.pk and settings.pretrain_epochs == 12
    assert f'<option value="{teacher.pk}" selected>' in client.get("/p/demo/models/").content.decode()
    client.post("/p/demo/models/settings/", {"pretrain_model": "", "pretrain_epochs": 12})
    assert LearningSettings.of(imported).pretrain_model_id is None
    # The teacher predicts the pool from the same page (it need not be the active model).
    assert 'id="predict-model"' in page
    client.post("/p/demo/models/predict/", {"scope": "pool", "model_version": teacher.pk})
    job = Job.objects.get(project=imported, kind="predict")
    assert job.params == {"scope": "pool", "model_version": teacher.pk}
    reviewer = Client()
    reviewer.force_login(users["reviewer"])
    assert reviewer.post("/p/demo/models/settings/", {"pretrain_model": teacher.pk}).status_code == 403


def test_pis_choose_the_teacher_through_the_settings_api(imported, users):
    teacher = make_teacher(imported, frames=1)
    client = api_client(users["pi"])
    url = "/api/projects/demo/learning/settings/"
    response = client.patch(url, {"pretrain_model": teacher.pk, "pretrain_epochs": 30}, format="json")
    assert response.status_code == 200 and response.json()["pretrain_model"] == teacher.pk
    assert LearningSettings.of(imported).pretrain_epochs == 30
    bad = client.patch(url, {"pretrain_model": 10 ** 6}, format="json")
    assert bad.status_code == 400 and "no keypoint model" in bad.json()["detail"]
    assert client.patch(url, {"pretrain_epochs": -1}, format="json").status_code == 400
    assert LearningSettings.of(imported).pretrain_model_id == teacher.pk
    assert client.patch(url, {"pretrain_model": None}, format="json").json()["pretrain_model"] is None
    assert api_client(users["reviewer"]).patch(url, {"pretrain_model": teacher.pk}, format="json").status_code == 403
