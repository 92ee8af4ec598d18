"""The video list and clip timeline pages: who sees them and which controls."""

import pytest

from annotations.models import Clip, Frame, Video

pytestmark = pytest.mark.django_db


@pytest.fixture
def clip(project):
    video = Video.objects.create(project=project, name="53800", source_name="set.mp4", fps=30, duration=2.0,
                                 width=1080, height=1920, codec="h264", rotation=90, frame_count=60)
    clip = Clip.objects.create(project=project, key="53800_1", video=video)
    Frame.objects.create(project=project, clip=clip, file_name="53800_1_0.jpg", width=1080, height=1920,
                         frame_index=0, timestamp=0.0)
    return clip


def page(client, user, url):
    client.force_login(user)
    return client.get(url)


def test_a_pi_sees_the_upload_form_and_the_videos_with_their_clips(client, users, clip):
    response = page(client, users["pi"], "/p/demo/videos/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="upload-form"' in html and 'class="reextract' in html
    assert '<a href="/p/demo/clips/53800_1/timeline/">53800_1</a> (1 frames)' in html
    assert "1080×1920" in html and "90°" in html


def test_an_annotator_sees_the_videos_but_no_upload_form(client, users, clip):
    html = page(client, users["annotator"], "/p/demo/videos/").content.decode()
    assert "53800_1" in html and 'id="upload-form"' not in html and "reextract" not in html


def test_the_timeline_shows_interpolation_to_annotators_and_the_queue_button_to_reviewers(client, users, clip):
    html = page(client, users["annotator"], "/p/demo/clips/53800_1/timeline/").content.decode()
    assert 'id="tl-interpolate"' in html and 'id="tl-feed"' not in html
    assert 'data-url="/api/projects/demo/clips/53800_1/timeline/"' in html
    html = page(client, users["reviewer"], "/p/demo/clips/53800_1/timeline/").content.decode()
    assert 'id="tl-feed"' in html


def test_outsiders_get_not_found(client, users, clip):
    for url in ("/p/demo/videos/", "/p/demo/clips/53800_1/timeline/"):
        assert page(client, users["outsider"], url).status_code == 404
    assert page(client, users["pi"], "/p/demo/clips/nope_1/timeline/").status_code == 404
