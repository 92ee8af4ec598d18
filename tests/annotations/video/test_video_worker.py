"""A video uploaded over REST is extracted by a real Celery worker process (PyAV in the worker)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotations.models import Frame
from tests.annotations.core.test_worker import wait_for, worker  # noqa: F401
from tests.annotations.video.video_builders import barbell_frames, write_video
from tests.conftest import api_client, needs_dataset

pytestmark = [pytest.mark.worker, needs_dataset]


def test_an_uploaded_video_is_extracted_by_a_real_worker_with_progress(worker, project, users, tmp_path):
    path = write_video(tmp_path / "set.mp4", barbell_frames(8))
    response = api_client(users["pi"]).post(
        f"/api/projects/{project.slug}/videos/",
        {"file": SimpleUploadedFile("set.mp4", path.read_bytes()), "mode": "fps", "fps": "5"}, format="multipart")
    assert response.status_code == 202, response.content
    job = wait_for(response.json()["id"])
    assert job.status == "succeeded", (job.message, job.traceback)
    assert (job.progress, job.result["frames"], job.result["clip"]) == (1.0, 4, "set_1")
    assert sorted(Frame.objects.filter(project=project).values_list("frame_index", flat=True)) == [0, 2, 4, 6]
