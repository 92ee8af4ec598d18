"""python manage.py import_video: the upload's job from the command line, with a JSON summary."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from annotations.models import Frame, Job, Video
from tests.annotations.video.video_builders import barbell_frames, media_files, write_video
from tests.conftest import needs_dataset

pytestmark = [needs_dataset, pytest.mark.django_db(databases=["default", "jobstate"])]


def run(*args) -> dict:
    out = StringIO()
    call_command("import_video", *map(str, args), stdout=out)
    return json.loads(out.getvalue())


def test_it_extracts_every_second_frame_into_the_named_clip_and_prints_a_summary(project, tmp_path, media_in_tmp):
    path = write_video(tmp_path / "row.mp4", barbell_frames(10))
    summary = run(project.slug, path, "--every", 2, "--clip-id", "52723_8")
    assert {k: summary[k] for k in ("frames", "fps", "duration", "clip", "video", "new_frames", "codec")} == {
        "frames": 5, "fps": 10.0, "duration": 1.0, "clip": "52723_8", "video": "52723", "new_frames": 5,
        "codec": "h264"}
    assert summary["preannotation"] == {"requested": False}
    assert sorted(Frame.objects.values_list("file_name", flat=True)) == [
        f"52723_8_{i}.jpg" for i in (0, 2, 4, 6, 8)]
    job = Job.objects.get(pk=summary["job"])
    assert (job.kind, job.status) == ("extract", "succeeded")
    assert path.exists()  # the command copies the file in; the original stays where it was
    assert Video.objects.get().file.name in media_files(media_in_tmp)


def test_it_extracts_at_a_target_fps_and_by_default_every_frame(project, tmp_path):
    path = write_video(tmp_path / "row.webm", barbell_frames(10), fmt="webm", codec="libvpx-vp9")
    assert run(project.slug, path, "--fps", 5)["frames"] == 5
    assert run(project.slug, path)["frames"] == 10
    assert sorted(Video.objects.values_list("name", flat=True)) == ["row", "row-2"]


def test_it_asks_for_pre_annotation_and_says_why_there_is_no_model_to_run(project, tmp_path, monkeypatch):
    from annotations.learning import runtime

    monkeypatch.setattr(runtime, "mediapipe_available", lambda: False)
    summary = run(project.slug, write_video(tmp_path / "a.mp4", barbell_frames(2)), "--preannotate")
    assert summary["preannotation"] == {
        "requested": True, "available": False,
        "reason": "no active keypoint model: retrain, or upload and activate an ONNX model "
                  "(MediaPipe is not installed here)"}


def test_it_fails_with_the_reason_and_leaves_nothing(project, tmp_path, media_in_tmp):
    path = tmp_path / "broken.mov"
    path.write_bytes(b"\x00" * 2000)
    with pytest.raises(CommandError, match="extraction failed: broken.mov: not a readable video"):
        run(project.slug, path)
    assert Video.objects.count() == 0 and Frame.objects.count() == 0 and media_files(media_in_tmp) == []
    with pytest.raises(CommandError, match="no project 'nope'"):
        run("nope", path)
    with pytest.raises(CommandError, match="not allowed with argument"):
        run(project.slug, path, "--every", 2, "--fps", 3)
