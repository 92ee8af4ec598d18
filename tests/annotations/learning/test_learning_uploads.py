"""A PI uploads an ONNX keypoint model (RTMPose/SpinePose contract) with its keypoint names; it is
validated on annotated frames before it can be activated, and then it predicts like any model."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.core.jobs import run_job
from annotations.models import Job, ModelStatus, ModelVersion, Prediction
from mlcore.skeletons import COCO17
from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])

CVAT_NAMES = [n.replace("_", " ").title() for n in COCO17.keypoints]  # "Left Shoulder", as users type them


@pytest.fixture(scope="module")
def onnx_bytes(tmp_path_factory) -> bytes:
    """An untrained SimCC network with 17 keypoints exported to the RTMPose ONNX contract (input 32 x 48)."""
    import torch

    from mlcore.nets.keypoint_net import KeypointNet
    from mlcore.onnx_export import export_onnx

    torch.manual_seed(0)
    net = KeypointNet(17, (32, 48), 2.0, 8, 32, 0.0).eval()
    path = tmp_path_factory.mktemp("onnx") / "rtmpose-like.onnx"
    export_onnx(net, (torch.zeros(1, 3, 48, 32),), path, ["input"], ["simcc_x", "simcc_y"])
    return path.read_bytes()


def upload(user, data: bytes, names, name="rtmpose-like.onnx"):
    return api_client(user).post("/api/projects/demo/models/upload/",
                                 {"file": SimpleUploadedFile(name, data), "keypoint_names": names,
                                  "name": "RTMPose-like test"}, format="multipart")


def validate(response) -> ModelVersion:
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.kind == "predict" and job.params == {"validate": response.json()["model"]["id"]}
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == "succeeded", job.traceback
    return ModelVersion.objects.get(pk=response.json()["model"]["id"])


def test_an_uploaded_model_is_validated_before_it_can_be_activated_and_then_predicts(imported, users, onnx_bytes):
    response = upload(users["pi"], onnx_bytes, "\n".join(CVAT_NAMES))
    assert response.status_code == 202, response.content
    version = ModelVersion.objects.get(pk=response.json()["model"]["id"])
    assert version.status == ModelStatus.VALIDATING and version.source == "uploaded"
    assert version.keypoint_names == list(COCO17.keypoints) and version.onnx.name.endswith(".onnx")
    refused = api_client(users["pi"]).post(f"/api/projects/demo/models/{version.pk}/activate/")
    assert refused.status_code == 400 and "validation" in refused.json()["detail"]

    version = validate(response)
    v = version.validation
    assert version.status == ModelStatus.READY and v["ok"] and v["problems"] == []
    assert v["frames"] == 8 and 0 <= v["mean_oks"] <= 1 and v["model_keypoints"] == 17 and v["input_size"] == [32, 48]
    assert v["shared_keypoints"] == list(COCO17.keypoints)

    activated = api_client(users["pi"]).post(f"/api/projects/demo/models/{version.pk}/activate/",
                                             {"predict": True}, format="json")
    assert activated.status_code == 200 and activated.json()["model"]["is_active"]
    predict = Job.objects.get(pk=activated.json()["job"]["id"])
    Job.objects.filter(pk=predict.pk).update(params={"clips": ["52723_8"], "then_score": False})
    run_job(predict.pk)
    predict.refresh_from_db()
    assert predict.status == "succeeded", predict.traceback
    preds = Prediction.objects.filter(model_version=version)
    assert preds.count() == 14 and preds.first().model_version.label == "keypoints v1 (Uploaded ONNX)"


def test_a_model_whose_outputs_do_not_match_its_names_fails_validation(imported, users, onnx_bytes):
    response = upload(users["pi"], onnx_bytes, "nose, left_eye, right_eye, left_ear, right_ear")
    version = validate(response)
    assert version.status == ModelStatus.INVALID and not version.validation["ok"]
    assert "outputs 17 keypoints but 5 names were given" in version.validation["problems"][0]
    response = api_client(users["pi"]).post(f"/api/projects/demo/models/{version.pk}/activate/")
    assert response.status_code == 400 and ModelVersion.active(imported, "keypoints") is None


def test_a_file_that_is_not_a_model_fails_validation(imported, users):
    version = validate(upload(users["pi"], b"not an onnx graph", ",".join(COCO17.keypoints)))
    assert version.status == ModelStatus.INVALID
    assert "does not load" in version.validation["problems"][0]


def test_uploads_need_a_pi_an_onnx_file_and_names_the_project_knows(imported, users, onnx_bytes):
    assert upload(users["reviewer"], onnx_bytes, ",".join(COCO17.keypoints)).status_code == 403
    bad_name = upload(users["pi"], onnx_bytes, ",".join(COCO17.keypoints), name="model.pt")
    assert bad_name.status_code == 400 and ".onnx" in bad_name.json()["detail"]
    no_names = upload(users["pi"], onnx_bytes, "")
    assert no_names.status_code == 400 and "keypoint names" in no_names.json()["detail"]
    strangers = upload(users["pi"], onnx_bytes, "wing_tip, beak")
    assert strangers.status_code == 400 and "none of the model's keypoints" in strangers.json()["detail"]
    assert ModelVersion.objects.count() == 0
