"""Corrupt, truncated and non-video files fail with a clear message and leave nothing behind."""

from fractions import Fraction

import av
import numpy as np
import pytest

from annotations.models import Job
from tests.annotations.video.video_builders import (  # noqa: F401
    barbell_frames,
    eager_jobs,
    media_files,
    row_counts,
    upload_video,
    write_video,
)
from tests.conftest import api_client, needs_dataset

pytestmark = [needs_dataset, pytest.mark.django_db(databases=["default", "jobstate"])]

NOTHING = {"Video": 0, "Clip": 0, "Frame": 0, "Annotation": 0}


@pytest.fixture(scope="module")
def frames():
    return barbell_frames(20)


def failed_upload(users, project, path, capture) -> Job:
    response = upload_video(api_client(users["pi"]), project.slug, path, capture)
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.traceback == ""  # bad input is not a crash
    return job


def test_a_text_file_named_mp4_is_not_a_video(project, users, tmp_path, eager_jobs, media_in_tmp,
                                              django_capture_on_commit_callbacks):
    path = tmp_path / "notes.mp4"
    path.write_text("rep 1: good\nrep 2: lumbar flexion\n" * 50)
    job = failed_upload(users, project, path, django_capture_on_commit_callbacks)
    assert job.message == ("notes.mp4: not a readable video (Invalid data found when processing input); "
                           "the file may be truncated, damaged or not a video at all")
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []


def test_a_truncated_mp4_fails_cleanly(project, users, tmp_path, frames, eager_jobs, media_in_tmp,
                                       django_capture_on_commit_callbacks):
    whole = write_video(tmp_path / "whole.mp4", frames).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole[: len(whole) * 6 // 10])  # the index (moov) at the end is gone
    job = failed_upload(users, project, path, django_capture_on_commit_callbacks)
    assert job.message.startswith("cut.mp4: not a readable video")
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []


def test_a_truncated_webm_fails_after_decoding_what_is_there_and_removes_its_frames(
        project, users, tmp_path, frames, eager_jobs, media_in_tmp, django_capture_on_commit_callbacks):
    whole = write_video(tmp_path / "whole.webm", frames, fmt="webm", codec="libvpx-vp9").read_bytes()
    path = tmp_path / "cut.webm"
    path.write_bytes(whole[: len(whole) * 8 // 10])  # WebM plays up to the cut: frames were written
    job = failed_upload(users, project, path, django_capture_on_commit_callbacks)
    assert job.message.startswith("cut.webm: the video is truncated")
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []


def test_a_video_with_damaged_data_fails_with_the_decoders_complaint(project, users, tmp_path, frames, eager_jobs,
                                                                     media_in_tmp, django_capture_on_commit_callbacks):
    data = bytearray(write_video(tmp_path / "whole.mp4", frames).read_bytes())
    data[len(data) // 2: len(data) // 2 + 4000] = np.random.default_rng(3).integers(0, 256, 4000, np.uint8).tobytes()
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))
    job = failed_upload(users, project, path, django_capture_on_commit_callbacks)
    assert job.message.startswith("damaged.mp4: ") and "h264" in job.message
    assert "damaged" in job.message.split(":", 1)[1]
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []


def test_a_file_with_sound_only_has_no_video_stream(project, users, tmp_path, eager_jobs, media_in_tmp,
                                                    django_capture_on_commit_callbacks):
    path = tmp_path / "voice.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        for i in range(4):
            samples = np.zeros((1, 1024), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 8000, i * 1024, Fraction(1, 8000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    job = failed_upload(users, project, path, django_capture_on_commit_callbacks)
    assert job.message == "voice.mp4: the file has no video stream"
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []


def test_an_unsupported_file_type_is_refused_before_any_job(project, users, tmp_path, media_in_tmp,
                                                            django_capture_on_commit_callbacks):
    path = tmp_path / "set.gif"
    path.write_bytes(b"GIF89a" + bytes(100))
    response = upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["detail"] == ("set.gif: not a supported video file;"
                                         " upload one of mp4, mov, avi, webm, mkv, m4v")
    assert Job.objects.count() == 0 and media_files(media_in_tmp) == []


def test_bad_extraction_options_are_refused_before_any_job(project, users, tmp_path, frames, media_in_tmp,
                                                           django_capture_on_commit_callbacks):
    path = write_video(tmp_path / "a.mp4", frames[:2])
    client = api_client(users["pi"])
    for fields, detail in [({"mode": "every", "every": "0"}, "'every' must be between 1 and 100000, got 0"),
                           ({"mode": "fps", "fps": "fast"}, "'fps' must be a number of frames per second, got 'fast'"),
                           ({"mode": "slow-motion"}, "unknown extraction mode 'slow-motion'; use all, every or fps"),
                           ({"clip": "../etc"},
                            "clip id '../etc': use letters, digits, '-' and '_' only (e.g. 52723_8)")]:
        response = upload_video(client, project.slug, path, django_capture_on_commit_callbacks, **fields)
        assert (response.status_code, response.json()["detail"]) == (400, detail)
    assert Job.objects.count() == 0 and media_files(media_in_tmp) == []


def test_a_failure_while_writing_rows_removes_the_written_frames(project, users, tmp_path, frames, eager_jobs,
                                                                 media_in_tmp, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    from annotations.models import Frame

    def broken_bulk_create(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Frame.objects, "bulk_create", broken_bulk_create)
    path = write_video(tmp_path / "a.mp4", frames[:5])
    response = upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks)
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED and job.message == "RuntimeError: database went away"
    assert "broken_bulk_create" in job.traceback
    assert row_counts() == NOTHING and media_files(media_in_tmp) == []
