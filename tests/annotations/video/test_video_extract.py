"""Videos uploaded over REST become frames: counts, names, sizes, timestamps, rotation, frame rates."""

import pytest
from PIL import Image

from annotations.models import Annotation, Clip, Frame, FrameStatus, Job, KeypointState, Video
from tests.annotations.video.video_builders import (  # noqa: F401
    SIZE,
    barbell_frames,
    eager_jobs,
    mean_difference,
    media_files,
    upload_video,
    write_video,
)
from tests.conftest import api_client, needs_dataset

pytestmark = [needs_dataset, pytest.mark.django_db(databases=["default", "jobstate"])]

W, H = SIZE


@pytest.fixture(scope="module")
def frames20():
    return barbell_frames(20)


def succeeded(response) -> Job:
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, (job.message, job.traceback)
    return job


def test_it_extracts_every_frame_of_an_uploaded_mp4_with_names_sizes_and_metadata(
        project, users, tmp_path, frames20, eager_jobs, media_in_tmp, django_capture_on_commit_callbacks):
    path = write_video(tmp_path / "row set.mp4", frames20)
    job = succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks,
                                 mode="all"))

    video = Video.objects.get(project=project)
    assert (video.name, video.source_name, video.codec) == ("row-set", "row set.mp4", "h264")
    assert (video.fps, video.duration, video.width, video.height, video.frame_count) == (10.0, 2.0, W, H, 20)
    assert video.rotation == 0 and video.variable_frame_rate is False
    assert video.file.name == "videos/demo/row-set.mp4" and (media_in_tmp / video.file.name).stat().st_size == \
        path.stat().st_size
    clip = Clip.objects.get(project=project)
    assert clip.key == "row-set_1" and clip.video == video
    frames = list(Frame.objects.filter(clip=clip).order_by("frame_index"))
    assert [f.file_name for f in frames] == [f"row-set_1_{i}.jpg" for i in range(20)]
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(20)])
    assert {(f.width, f.height, f.status) for f in frames} == {(W, H, FrameStatus.UNLABELLED)}
    # The project's clip pattern reads the names back as this clip and frame.
    assert project.parse_file_name(frames[7].file_name) == ("row-set_1", 7)
    with Image.open(frames[7].image.path) as img:
        assert (img.format, img.size) == ("JPEG", (W, H))
        assert mean_difference(img.convert("RGB"), frames20[7]) < 6  # the right frame, barely compressed
    with Image.open(frames[7].thumbnail.path) as thumb:
        assert thumb.size == (131, 192)
    assert job.result["frames"] == job.result["new_frames"] == 20
    assert job.result["preannotation"] == {"requested": False}
    assert job.message == "20 frames of clip row-set_1 (20 new, 0 kept, 0 removed)"
    # The upload itself is gone: the video file moved into videos/.
    assert not [n for n in media_files(media_in_tmp) if n.startswith("uploads/")]
    assert len(media_files(media_in_tmp)) == 1 + 20 + 20


def test_it_extracts_a_webm_at_a_target_fps_then_again_every_nth_keeping_annotated_frames(
        project, users, tmp_path, frames20, eager_jobs, media_in_tmp, django_capture_on_commit_callbacks):
    path = write_video(tmp_path / "side.webm", frames20, fmt="webm", codec="libvpx-vp9")
    client = api_client(users["pi"])
    job = succeeded(upload_video(client, project.slug, path, django_capture_on_commit_callbacks,
                                 mode="fps", fps="4", clip="52999_3"))
    video = Video.objects.get(project=project)
    assert (video.name, video.codec, video.fps, video.duration, video.frame_count) == ("52999", "vp9", 10.0, 2.0, 20)
    clip = Clip.objects.get(key="52999_3")

    def indices():
        return list(Frame.objects.filter(clip=clip).order_by("frame_index").values_list("frame_index", flat=True))

    # 4 fps from 10 fps: the first frame at or after each quarter second.
    assert indices() == [0, 3, 5, 8, 10, 13, 15, 18]
    assert job.result["selection"] == {"mode": "fps", "fps": 4.0} and job.result["source_frames"] == 20

    # Someone labels frame 3 and opens frame 5 for annotation; nobody touched frame 13.
    f3, f5 = Frame.objects.get(clip=clip, frame_index=3), Frame.objects.get(clip=clip, frame_index=5)
    Annotation.objects.create(project=project, frame=f3, keypoints=[10, 20, 2] + [0, 0, 0] * 23,
                              keypoint_states=[KeypointState.VERIFIED] * 24, bbox=[0, 0, 50, 80], area=4000)
    Frame.objects.filter(pk=f5.pk).update(status=FrameStatus.ANNOTATED)
    f13_image = Frame.objects.get(clip=clip, frame_index=13).image.name

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/projects/{project.slug}/videos/{video.pk}/extract/",
                               {"mode": "every", "every": 4}, format="json")
    again = succeeded(response)
    # Every 4th frame, plus the annotated frame 3 and the opened frame 5, which stay.
    assert indices() == [0, 3, 4, 5, 8, 12, 16]
    assert (again.result["frames"], again.result["new_frames"], again.result["kept_frames"],
            again.result["removed_frames"]) == (5, 3, 2, 4)
    assert Frame.objects.get(pk=f3.pk).annotations.count() == 1
    assert f13_image not in media_files(media_in_tmp)
    assert len([n for n in media_files(media_in_tmp) if n.startswith("frames/")]) == 7
    assert Video.objects.count() == 1 and Clip.objects.count() == 1


def test_it_turns_frames_upright_by_the_display_matrix(project, users, tmp_path, frames20, eager_jobs,
                                                       django_capture_on_commit_callbacks):
    # A phone held upright records landscape pictures and a display matrix that turns them 90
    # degrees clockwise (PyAV's counter-clockwise angle -90), like an iPhone's "rotate=90".
    stored = [f.transpose(Image.Transpose.ROTATE_90) for f in frames20[:6]]  # picture as the sensor saw it
    assert stored[0].size == (H, W)
    path = write_video(tmp_path / "phone.mov", stored, fmt="mov", rotation=-90)
    succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks))

    video = Video.objects.get(project=project)
    assert (video.rotation, video.width, video.height) == (90, W, H)
    frame = Frame.objects.get(frame_index=2)
    assert (frame.width, frame.height) == (W, H)
    with Image.open(frame.image.path) as img:
        upright = img.convert("RGB")
    assert upright.size == (W, H)
    assert mean_difference(upright, frames20[2]) < 6
    # Turned the wrong way round it would not match.
    assert mean_difference(upright, frames20[2].transpose(Image.Transpose.ROTATE_180)) > 25


def test_it_samples_a_variable_frame_rate_video_by_timestamps(project, users, tmp_path, frames20, eager_jobs,
                                                              django_capture_on_commit_callbacks):
    # Ten frames shown at 0.0-0.3 s, 0.6-0.8 s and 1.2-1.4 s (a phone dropping its rate in dim light).
    pts = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14]
    path = write_video(tmp_path / "vfr.mp4", frames20[:10], pts=pts)
    job = succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks,
                                 mode="fps", fps="4"))
    video = Video.objects.get(project=project)
    assert video.variable_frame_rate is True and video.frame_count == 10 and video.duration == 1.5
    assert video.fps == pytest.approx(9 / 1.4, abs=1e-3)  # the measured mean, not a nominal rate
    frames = list(Frame.objects.order_by("frame_index").values_list("frame_index", "timestamp"))
    # Sample times 0, 0.25, 0.5, ... take the first frame shown at or after each; counting every
    # 2.5th frame instead would have taken frames 0, 3, 5, 8.
    assert frames == [(0, 0.0), (3, 0.3), (4, 0.6), (6, 0.8), (7, 1.2), (8, 1.3)]
    assert job.result["variable_frame_rate"] is True


@pytest.mark.parametrize("fmt,codec,ext,expected_codec", [("avi", "mpeg4", "avi", "mpeg4"),
                                                          ("matroska", "mpeg4", "mkv", "mpeg4")])
def test_it_reads_other_containers(project, users, tmp_path, frames20, eager_jobs, fmt, codec, ext, expected_codec,
                                   django_capture_on_commit_callbacks):
    path = write_video(tmp_path / f"set.{ext}", frames20[:8], fmt=fmt, codec=codec)
    job = succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks,
                                 mode="every", every="3"))
    assert sorted(Frame.objects.values_list("file_name", flat=True)) == ["set_1_0.jpg", "set_1_3.jpg", "set_1_6.jpg"]
    assert job.result["codec"] == expected_codec and job.result["source_frames"] == 8


def test_a_second_video_with_the_same_name_gets_its_own_name_and_clip(
        project, users, tmp_path, frames20, eager_jobs, django_capture_on_commit_callbacks):
    path = write_video(tmp_path / "set.mp4", frames20[:4])
    client = api_client(users["pi"])
    for _ in range(2):
        succeeded(upload_video(client, project.slug, path, django_capture_on_commit_callbacks))
    assert sorted(Video.objects.values_list("name", flat=True)) == ["set", "set-2"]
    assert sorted(Clip.objects.values_list("key", flat=True)) == ["set-2_1", "set_1"]
    listed = client.get(f"/api/projects/{project.slug}/videos/").json()
    assert [(v["name"], v["clips"]) for v in listed] == [("set", [{"key": "set_1", "frames": 4}]),
                                                         ("set-2", [{"key": "set-2_1", "frames": 4}])]


def test_a_video_of_an_imported_clip_fills_in_its_missing_frames_and_keeps_the_imported_ones(
        imported, users, tmp_path, frames20, eager_jobs, django_capture_on_commit_callbacks):
    clip = Clip.objects.get(project=imported, key="52723_8")
    before = dict(Frame.objects.filter(clip=clip).values_list("file_name", "id"))
    assert "52723_8_10.jpg" in before and "52723_8_3.jpg" not in before
    path = write_video(tmp_path / "52723.mp4", frames20[:12])
    job = succeeded(upload_video(api_client(users["pi"]), imported.slug, path, django_capture_on_commit_callbacks,
                                 clip="52723_8"))
    after = dict(Frame.objects.filter(clip=clip).values_list("file_name", "id"))
    assert {name: after[name] for name in before} == before  # imported frames untouched (same rows)
    assert {f"52723_8_{i}.jpg" for i in range(12)} <= set(after)
    kept = len([n for n in before if int(n[:-4].rsplit("_", 1)[1]) < 12])
    assert (job.result["kept_frames"], job.result["new_frames"]) == (kept, 12 - kept)
    assert Clip.objects.get(pk=clip.pk).video.name == "52723"


def test_it_refuses_a_clip_that_belongs_to_another_video(project, users, tmp_path, frames20, eager_jobs,
                                                          django_capture_on_commit_callbacks, media_in_tmp):
    path = write_video(tmp_path / "a.mp4", frames20[:3])
    client = api_client(users["pi"])
    succeeded(upload_video(client, project.slug, path, django_capture_on_commit_callbacks, clip="a_1"))
    files = media_files(media_in_tmp)
    response = upload_video(client, project.slug, path, django_capture_on_commit_callbacks, clip="a_1")
    job = Job.objects.get(pk=response.json()["id"])
    assert job.status == Job.Status.FAILED
    assert job.message == ("clip a_1 already holds the frames of video a;"
                           " choose another clip id, or re-extract that video")
    assert media_files(media_in_tmp) == files and Frame.objects.count() == 3


def test_only_a_pi_may_upload_and_members_may_read(project, users, tmp_path, frames20,
                                                   django_capture_on_commit_callbacks):
    path = write_video(tmp_path / "a.mp4", frames20[:2])
    response = upload_video(api_client(users["annotator"]), project.slug, path, django_capture_on_commit_callbacks)
    assert response.status_code == 403
    response = upload_video(api_client(users["outsider"]), project.slug, path, django_capture_on_commit_callbacks)
    assert response.status_code == 404
    assert api_client(users["annotator"]).get(f"/api/projects/{project.slug}/videos/").json() == []
    assert Job.objects.count() == 0


def test_pre_annotation_without_a_model_says_why(project, users, tmp_path, frames20, eager_jobs, monkeypatch,
                                                 django_capture_on_commit_callbacks):
    from annotations.learning import runtime

    monkeypatch.setattr(runtime, "mediapipe_available", lambda: False)
    path = write_video(tmp_path / "a.mp4", frames20[:3])
    job = succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks,
                                 preannotate="1"))
    assert job.result["preannotation"] == {
        "requested": True, "available": False,
        "reason": "no active keypoint model: retrain, or upload and activate an ONNX model "
                  "(MediaPipe is not installed here)"}
    assert list(Job.objects.values_list("kind", flat=True)) == ["extract"]


def test_pre_annotation_starts_the_predict_job_on_the_new_frames(project, users, tmp_path, frames20, monkeypatch):
    from django.core.files import File
    from django.core.files.storage import default_storage

    from annotations.learning import runtime
    from annotations.video import extraction as videos

    monkeypatch.setattr(runtime, "keypoint_version_for", lambda project: "demo keypoints v1")
    path = write_video(tmp_path / "a.mp4", frames20[:4])
    with open(path, "rb") as fh:
        upload = default_storage.save("uploads/t/a.mp4", File(fh))
    job = videos.start_extraction(project, upload, "a.mp4", {"selection": {"mode": "every", "every": 2},
                                                             "preannotate": True}, users["pi"], run_now=True)
    assert job.status == Job.Status.SUCCEEDED, job.message
    predict = Job.objects.get(kind="predict")
    new = sorted(Frame.objects.values_list("pk", flat=True))
    assert job.result["preannotation"] == {"requested": True, "available": True, "jobs": [predict.pk],
                                           "model": "demo keypoints v1"}
    assert predict.params == {"frames": new, "then_score": True} and len(new) == 2
    assert predict.created_by == users["pi"]


def test_frame_times_count_from_the_start_of_a_stream_that_does_not_begin_at_zero(
        project, users, tmp_path, frames20, eager_jobs, django_capture_on_commit_callbacks):
    # A clip cut out of a longer recording keeps its timestamps: its first frame is shown at 0.5 s.
    path = write_video(tmp_path / "cut-out.mkv", frames20[:5], fmt="matroska", codec="mpeg4", pts=[5, 6, 7, 8, 9])
    succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks))
    assert list(Frame.objects.order_by("frame_index").values_list("timestamp", flat=True)) == pytest.approx(
        [0.0, 0.1, 0.2, 0.3, 0.4])
    assert Video.objects.get().duration == 0.5


def test_an_imported_frame_without_its_image_gets_the_videos_when_the_sizes_agree(
        project, users, tmp_path, frames20, eager_jobs, django_capture_on_commit_callbacks):
    clip = Clip.objects.create(project=project, key="53700_1")
    same = Frame.objects.create(project=project, clip=clip, file_name="53700_1_2.jpg", width=W, height=H, frame_index=2)
    other = Frame.objects.create(project=project, clip=clip, file_name="53700_1_3.jpg", width=640, height=480,
                                 frame_index=3)
    path = write_video(tmp_path / "53700.mp4", frames20[:5])
    job = succeeded(upload_video(api_client(users["pi"]), project.slug, path, django_capture_on_commit_callbacks,
                                 clip="53700_1"))
    same.refresh_from_db()
    other.refresh_from_db()
    assert same.image.name == "frames/demo/53700_1_2.jpg" and same.timestamp == pytest.approx(0.2)
    assert other.image.name == ""  # 640x480 labels cannot sit on a 240x352 picture
    assert (job.result["new_frames"], job.result["kept_frames"]) == (3, 2)
