"""The app's default keypoint family: a retrain trains heads on BlazePose's backbone when its files are here,
compares them with untuned BlazePose on the same held-out clips, keeps the backbone crops for the next
retrain, and the models page and API say which family each version is."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotations.learning import families
from annotations.learning.families import (
    BLAZEPOSE_HEADS,
    SCRATCH,
    inference_text,
    retrain_family,
    version_family,
)
from annotations.models import Frame, ModelKind, ModelVersion, Prediction
from mlcore import coco
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
from mlcore.blazepose.test_views import RULES
from mlcore.spine_contour import PLACED
from tests.annotations.learning.test_learning_jobs import TINY_FORM, run
from tests.conftest import CORRECT_IMAGES, CORRECT_JSON, DATASET, LUMBAR_IMAGES, LUMBAR_JSON, api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

# Tiny heads: one jittered crop per frame, two epochs; the backbone itself is the real one.
TINY_HEADS = {"head": {"variants": 1, "epochs": 2, "hidden": 8, "batch_size": 8, "patience": 5,
                       "temporal_smoothing": True}}


def _few_clips(path, clips: int, frames: int) -> dict:
    """The first `clips` clips of a CVAT export, `frames` annotated frames each (and nothing else)."""
    data = coco.load_coco(path)
    annotated = {a["image_id"] for a in data["annotations"]}
    by_clip: dict[str, list[int]] = {}
    for img in sorted(data["images"], key=lambda i: i["file_name"]):
        if img["id"] in annotated:
            by_clip.setdefault(coco.clip_id(img), []).append(img["id"])
    keep = [i for ids in list(by_clip.values())[:clips] for i in ids[:frames]]
    return coco.subset(data, keep)


@pytest.fixture
def small(project, tmp_path):
    """The demo project with 5 clips of each form label, 3 annotated frames per clip (30 frames)."""
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    if not DATASET.is_dir():
        pytest.skip(f"barbell-row dataset not found at {DATASET}")
    from annotations.datasets.importing import import_coco_file

    for name, src, images, label in (("correct", CORRECT_JSON, CORRECT_IMAGES, "correct"),
                                     ("lumbar", LUMBAR_JSON, LUMBAR_IMAGES, "lumbar_error")):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(_few_clips(src, 5, 3)))
        import_coco_file(project, path, images_dir=images, form_label=label)
    return project


def test_a_default_retrain_trains_blazepose_heads_beside_untuned_blazepose_and_reuses_the_crops(small, users,
                                                                                                 client):
    assert retrain_family(small)["backbone"] == "blazepose"
    first = run(small, "retrain", users["pi"], keypoint_config=TINY_HEADS, form_config=TINY_FORM, chain=False)
    kp = ModelVersion.objects.get(project=small, kind=ModelKind.KEYPOINTS, job=first)
    assert kp.meta["backbone"] == "blazepose" and version_family(kp) == BLAZEPOSE_HEADS
    training = kp.metrics["training"]
    assert training["backbone"] == "blazepose" and training["crop_sets_computed"] > 0
    assert training["crop_sets_from_store"] == 0
    sides = training["side_convention"]      # which BlazePose channels the left/right heads started from
    assert sides["heads_start_mirrored"] is sides["mirrored"] is (
        sides["blazepose_mirrored_mean_oks"] > sides["blazepose_as_named_mean_oks"])
    assert 0 <= kp.metrics["keypoints"]["mean_oks"] <= 1 and kp.metrics["keypoints"]["points_to_fix"] >= 0
    # One training, for time (mlcore's own default is an ensemble of 3): the config says so, the report
    # lists no members.
    assert kp.meta["config"]["head"]["members"] == 1 and "members" not in training

    compared = kp.metrics["untuned_blazepose"]
    assert compared["frames"] == kp.metrics["heldout_frames"] > 0
    for side in ("trained", "untuned_blazepose"):
        assert 0 <= compared[side]["mean_oks"] <= 1 and 0 <= compared[side]["points_to_fix"] <= 17

    # Same frames, same boxes: the second retrain runs the backbone only for evaluation, not for the crops.
    second = run(small, "retrain", users["pi"], keypoint_config=TINY_HEADS, form_config=TINY_FORM, chain=False)
    again = ModelVersion.objects.get(project=small, kind=ModelKind.KEYPOINTS, job=second).metrics["training"]
    assert again["crop_sets_computed"] == 0
    assert again["crop_sets_from_store"] == training["crop_sets_computed"]

    payload = api_client(users["reviewer"]).get("/api/projects/demo/models/?kind=keypoints").json()
    assert {m["family"] for m in payload} == {BLAZEPOSE_HEADS}
    settings = api_client(users["reviewer"]).get("/api/projects/demo/learning/settings/").json()
    assert settings["next_retrain"]["backbone"] == "blazepose"

    client.force_login(users["pi"])
    page = client.get("/p/demo/models/").content.decode()
    assert BLAZEPOSE_HEADS in page and "vs untuned BlazePose" in page
    # The flip test and each point's smoothing radius are chosen on the training's own held-out clips, and
    # the page and the API say how each version answers.
    choice = training["test_views_choice"]
    assert kp.meta["test_views"] == choice["test_views"] == max(choice["mean_oks"], key=choice["mean_oks"].get)
    # The app chooses among the rules whose views prediction jobs read anyway (plain and mirrored crop).
    assert set(choice["mean_oks"]) == {"plain", "flip_points", "flip_maps"}
    assert kp.meta["config"]["head"]["test_views"] == ["plain", "flip_points", "flip_maps"]
    assert kp.meta["flip_average"] is ("mirror" in RULES[kp.meta["test_views"]])
    assert kp.meta["smoothing_radius"] == training["temporal_smoothing"]["radius"]
    words = {m["id"]: m["inference"] for m in payload}
    assert words[kp.pk] == inference_text(kp)
    assert ("flip test" in words[kp.pk]) is kp.meta["flip_average"]
    assert ("zoomed crops" in words[kp.pk]) is ("zoom" in kp.meta["test_views"])
    assert ("smoothed along the clip" in words[kp.pk]) is any(kp.meta["smoothing_radius"].values())
    for text in set(words.values()) - {""}:
        assert text in page
    check_spine_points_follow_the_back(small, kp, users)


def check_spine_points_follow_the_back(small, kp, users):
    """The heads learned the 17 body points (nobody verified a spine point); the predict job answers in the
    project's skeleton with neck, hip and spine_01..05 placed from BlazePose's body outline, score 0."""
    assert len(kp.meta["skeleton"]["keypoints"]) == 17
    clip = Frame.objects.filter(project=small).order_by("clip__key").values_list("clip__key", flat=True).first()
    run(small, "predict", users["pi"], clips=[clip], model_version=kp.pk, then_score=False)
    preds = list(Prediction.objects.filter(project=small, model_version=kp))
    skeleton = small.get_skeleton()
    spine = [skeleton.index(n) for n in PLACED]
    assert preds and skeleton.num_keypoints == 24
    off_the_chord = []
    for p in preds:
        assert sorted(p.heuristic_keypoints) == sorted(spine)
        assert all(p.keypoints[i][2] == 0 for i in spine) and all(p.keypoints[i][2] > 0 for i in range(17))
        xy = np.array([p.keypoints[i][:2] for i in range(skeleton.num_keypoints)])
        hip, neck, mid = xy[skeleton.index("hip")], xy[skeleton.index("neck")], xy[skeleton.index("spine_03")]
        chord = neck - hip
        off_the_chord.append(abs(chord[0] * (mid - hip)[1] - chord[1] * (mid - hip)[0]) / np.linalg.norm(chord))
    # The straight-line heuristic puts spine_03 on the hip-neck chord; the back contour bends away from it.
    assert max(off_the_chord) > 2.0


def test_without_blazepose_files_the_next_retrain_is_from_scratch_and_says_why(project, monkeypatch, users, client):
    def missing():
        raise BlazePoseUnavailable("searched nowhere")

    monkeypatch.setattr(families, "blazepose_files", missing)
    nxt = retrain_family(project)
    assert nxt["backbone"] == "scratch" and nxt["family"] == SCRATCH and "make install" in nxt["why"]
    client.force_login(users["pi"])
    page = client.get("/p/demo/models/").content.decode()
    assert SCRATCH in page and "were not found" in page


def test_a_pi_chooses_the_keypoint_network_and_the_epochs_field_follows_it(project, users, client):
    client.force_login(users["pi"])
    if retrain_family(project)["backbone"] == "blazepose":
        assert "Keypoint epochs (of the heads)" in client.get("/p/demo/models/").content.decode()
    client.post("/p/demo/models/settings/", {"backbone": "scratch"})
    assert retrain_family(project)["backbone"] == "scratch"
    assert "ask for it" in retrain_family(project)["why"]
    assert "Keypoint epochs (of the network)" in client.get("/p/demo/models/").content.decode()
    assert client.post("/p/demo/models/settings/", {"backbone": "resnet"}).status_code == 302
    assert retrain_family(project)["backbone"] == "scratch"  # refused, unchanged


def test_the_models_page_says_when_a_version_answers_the_mean_of_several_trainings():
    one = ModelVersion(meta={"config": {"head": {"members": 1}}, "flip_average": False})
    three = ModelVersion(meta={"config": {"head": {"members": 3}}, "flip_average": True,
                               "smoothing_radius": {"nose": 0}})
    assert inference_text(one) == ""
    assert inference_text(three) == "mean of 3 trainings; flip test"
    assert inference_text(ModelVersion(meta={})) == ""        # versions written before members existed
    # versions that read each crop's views on the heatmaps say which views (test_views beats flip_average)
    maps = ModelVersion(meta={"config": {"head": {"members": 3}}, "flip_average": True,
                              "test_views": "zoom_flip_maps"})
    assert inference_text(maps) == "mean of 3 trainings; flip test and zoomed crops on the heatmaps"
    assert inference_text(ModelVersion(meta={"flip_average": False, "test_views": "zoom"})) == \
        "zoomed crops on the heatmaps"
    assert inference_text(ModelVersion(meta={"flip_average": False, "test_views": "plain"})) == ""
