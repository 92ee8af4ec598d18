"""The check_labels job started over REST runs in a real Celery worker and feeds the label-error queue."""

import pytest

from annotations.models import Queue, QueueItem
from tests.annotations.core.test_worker import wait_for, worker  # noqa: F401
from tests.annotations.quality.test_label_checks import make_clip, swap_knees
from tests.conftest import api_client

pytestmark = [pytest.mark.worker]


def test_a_check_labels_job_runs_in_a_worker_and_queues_the_swapped_frame(worker, project, users):
    _clip, anns = make_clip(project)
    swap_knees(anns[4])
    response = api_client(users["reviewer"]).post(f"/api/projects/{project.slug}/label-checks/",
                                                  {"kinds": ["swap"]}, format="json")
    assert response.status_code == 202, response.content
    job = wait_for(response.json()["id"])
    assert job.status == "succeeded", (job.message, job.traceback)
    assert job.result["summary"]["by_kind"] == {"swap": 1} and job.message == "1 flags on 1 frames"
    assert [f["keypoints"] for f in job.result["flags"]] == [["left_knee", "right_knee"]]
    item = QueueItem.objects.get(frame_id=anns[4].frame_id, queue=Queue.LABEL_ERROR)
    assert item.is_open and item.signals["label_check_kinds"] == ["swap"]
