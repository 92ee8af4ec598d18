"""Learning settings and learning-job params are range-checked before anything is stored or queued: a bad
value is a 400 naming the field, the settings stay as they were and no Job row is created."""

from __future__ import annotations

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

SETTINGS = "/api/projects/demo/learning/settings/"


def stored_settings(project) -> dict:
    from annotations.models import LearningSettings

    s = LearningSettings.of(project)
    return {"keypoint_config": s.keypoint_config, "form_config": s.form_config, "mc_samples": s.mc_samples,
            "pretrain_epochs": s.pretrain_epochs, "retrain_after": s.retrain_after}


@pytest.mark.parametrize("body, field", [
    ({"keypoint_config": {"epochs": -5}}, "epochs"),
    ({"keypoint_config": {"epochs": 1_000_000_000}}, "epochs"),
    ({"keypoint_config": {"epochs": "many"}}, "epochs"),
    ({"keypoint_config": {"input_size": [100000, 100000]}}, "input_size"),
    ({"keypoint_config": {"input_size": [50, 64]}}, "input_size"),
    ({"keypoint_config": {"batch_size": 0}}, "batch_size"),
    ({"keypoint_config": {"width": 100000}}, "width"),
    ({"keypoint_config": {"lr": 1e300}}, "lr"),
    ({"keypoint_config": {"augment": {"rotation": 1e9}}}, "rotation"),
    ({"keypoint_config": {"augment": {"spin": 1}}}, "spin"),
    ({"keypoint_config": {"head": {"flip_average": "yes"}}}, "flip_average"),
    ({"keypoint_config": {"head": {"test_views": "zoom3"}}}, "test_views"),
    ({"keypoint_config": {"head": {"test_views": True}}}, "test_views"),
    ({"keypoint_config": {"head": {"test_views": ["plain", "zoom3"]}}}, "test_views"),
    ({"keypoint_config": {"head": {"test_views": []}}}, "test_views"),
    ({"keypoint_config": {"head": {"ema_epochs": -1}}}, "ema_epochs"),
    ({"keypoint_config": {"head": {"members": 9}}}, "members"),
    ({"keypoint_config": {"head": {"stages": 3}}}, "stages"),
    ({"keypoint_config": {"head": {"stages": True}}}, "stages"),
    ({"form_config": {"epochs": -5}}, "epochs"),
    ({"form_config": {"arch": "transformer"}}, "arch"),
    ({"mc_samples": 65}, "mc_samples"),
    ({"retrain_after": -1}, "retrain_after"),
    ({"pretrain_epochs": 1e9}, "pretrain_epochs"),
    ({"retrain_after": True}, "retrain_after"),
])
def test_out_of_range_learning_settings_are_a_400_naming_the_field(project, users, body, field):
    before = stored_settings(project)
    r = api_client(users["pi"]).patch(SETTINGS, body, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["detail"]
    assert stored_settings(project) == before


def test_sensible_learning_settings_are_saved(project, users):
    r = api_client(users["pi"]).patch(SETTINGS, {"keypoint_config": {"epochs": 2000, "input_size": [192, 256],
                                                                     "batch_size": 64, "head": {"ema_epochs": 1.5}},
                                                 "form_config": {"epochs": 1}, "mc_samples": 8}, format="json")
    assert r.status_code == 200, r.content
    assert stored_settings(project)["keypoint_config"]["input_size"] == [192, 256]
    assert stored_settings(project)["keypoint_config"]["head"]["ema_epochs"] == 1.5


@pytest.mark.parametrize("stages", [1, 2, 5])
def test_the_last_stages_or_the_whole_backbone_may_train(project, users, stages):
    r = api_client(users["pi"]).patch(SETTINGS, {"keypoint_config": {"head": {"stages": stages}}}, format="json")
    assert r.status_code == 200, r.content
    assert stored_settings(project)["keypoint_config"]["head"]["stages"] == stages


@pytest.mark.parametrize("choice", [None, True, False])
def test_the_flip_average_is_forced_on_or_off_or_left_to_the_held_out_clips(project, users, choice):
    r = api_client(users["pi"]).patch(SETTINGS, {"keypoint_config": {"head": {"flip_average": choice}}}, format="json")
    assert r.status_code == 200, r.content
    assert stored_settings(project)["keypoint_config"]["head"]["flip_average"] is choice


@pytest.mark.parametrize("rule", [None, "plain", "flip_maps", "zoom_flip_maps", ["plain", "zoom"]])
def test_the_test_time_rule_is_forced_or_left_to_the_held_out_clips(project, users, rule):
    r = api_client(users["pi"]).patch(SETTINGS, {"keypoint_config": {"head": {"test_views": rule}}}, format="json")
    assert r.status_code == 200, r.content
    assert stored_settings(project)["keypoint_config"]["head"]["test_views"] == rule


@pytest.mark.parametrize("kind, params, field", [
    ("retrain", {"keypoint_config": {"epochs": -5}}, "epochs"),
    ("retrain", {"keypoint_config": {"input_size": [100000, 100000]}}, "input_size"),
    ("retrain", {"split_version": "latest"}, "split_version"),
    ("retrain", {"force": "yes please"}, "force"),
    ("retrain", {"pretrain_epochs": -1}, "pretrain_epochs"),
    ("retrain", {"predict": {"scope": 3}}, "scope"),
    ("retrain", {"epochs": 5}, "epochs"),
    ("predict", {"frames": ["a"]}, "frames"),
    ("predict", {"scope": "everything"}, "scope"),
    ("predict", {"mc_samples": 10_000}, "mc_samples"),
    ("predict", {"flip_test": "no"}, "flip_test"),
    ("predict", {"clips": "c1"}, "clips"),
    ("predict", {"surprise": 1}, "surprise"),
    ("score", {"model_version": [1]}, "model_version"),
    ("score", {"threshold": 0.5}, "threshold"),
])
def test_learning_jobs_with_bad_params_are_refused_before_a_job_exists(project, users, kind, params, field):
    from annotations.models import Job

    r = api_client(users["pi"]).post(f"/api/projects/demo/learning/{kind}/", {"params": params}, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["detail"]
    assert not Job.objects.exists()


def test_the_models_page_refuses_out_of_range_settings_naming_the_field(project, users, client):
    from annotations.models import LearningSettings

    client.force_login(users["pi"])
    before = stored_settings(project)
    response = client.post("/p/demo/models/settings/", {"mc_samples": "100000", "retrain_after": "5"}, follow=True)
    assert response.status_code == 200
    assert "mc_samples" in " ".join(str(m) for m in response.context["messages"])
    assert stored_settings(project) == before and LearningSettings.of(project).mc_samples != 100000


def test_the_models_page_refuses_a_retrain_of_a_billion_epochs(project, users, client):
    from annotations.models import Job

    client.force_login(users["pi"])
    response = client.post("/p/demo/models/retrain/", {"epochs": "1000000000"}, follow=True)
    assert "epochs" in " ".join(str(m) for m in response.context["messages"])
    assert not Job.objects.exists()
