"""A still picture uploaded under a video's name is refused by its content, not accepted as a one-frame
video: the job fails with a clear message and leaves nothing behind."""

import io

import pytest
from PIL import Image

from annotations.models import Job
from tests.annotations.video.video_builders import eager_jobs, media_files, row_counts, upload_video  # noqa: F401
from tests.conftest import LUMBAR_IMAGES, api_client, needs_dataset

pytestmark = [needs_dataset, pytest.mark.django_db(databases=["default", "jobstate"])]

NOTHING = {"Video": 0, "Clip": 0, "Frame": 0, "Annotation": 0}


def a_jpeg() -> bytes:
    return sorted(LUMBAR_IMAGES.glob("*.jpg"))[0].read_bytes()


def a_png() -> bytes:
    buf = io.BytesIO()
    Image.open(io.BytesIO(a_jpeg())).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("name, payload", [("x.mp4", a_jpeg), ("clip.mov", a_png), ("set.webm", a_jpeg)])
def test_a_still_image_named_as_a_video_is_refused(project, users, tmp_path, eager_jobs, media_in_tmp,
                                                    django_capture_on_commit_callbacks, name, payload):
    path = tmp_path / name
    path.write_bytes(payload())
    response = upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED and job.traceback == ""
    assert job.message.startswith(f"{name}: this is a still image") and "not a video" in job.message
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []


def test_probing_a_picture_says_it_is_a_still_image(tmp_path):
    from annotations.video.decode import VideoProblem, probe

    path = tmp_path / "frame.mp4"
    path.write_bytes(a_jpeg())
    with pytest.raises(VideoProblem, match="still image"):
        probe(str(path), "frame.mp4")
