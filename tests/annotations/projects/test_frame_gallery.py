"""The frame gallery: thumbnails (or a placeholder), filters by status, split, form label, clip and verified
state, keyset paging, links to the editor and the timeline; bad filters get a 400 naming the field."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def frames(project):
    """Two clips of 40 frames; a few with thumbnails, labels, states and statuses to filter on."""
    from django.core.files.base import ContentFile

    from annotations.models import Annotation, Clip, Frame

    clips = [Clip.objects.create(project=project, key=k) for k in ("c1", "c2")]
    rows = [Frame(project=project, clip=clips[i // 40], file_name=f"f{i:03d}.jpg", width=100, height=80,
                  frame_index=i % 40, split="train" if i < 40 else "val") for i in range(80)]
    Frame.objects.bulk_create(rows)
    rows = list(Frame.objects.filter(project=project).order_by("pk"))
    rows[0].thumbnail.save("t0.jpg", ContentFile(b"\xff\xd8\xff\xd9"))
    correct = project.form_labels.get(name="correct")
    K = project.num_keypoints
    for n, frame in enumerate(rows[:6]):
        states = ["verified"] * K if n < 3 else ["predicted"] + ["verified"] * (K - 1)
        kpts = [10, 10, 2] + [0, 0, 0] * (K - 1)
        Annotation.objects.create(project=project, frame=frame, keypoints=kpts, keypoint_states=states,
                                  bbox=[0, 0, 10, 10], area=100, form_label=correct if n % 2 == 0 else None)
    # Unlabelled points left "unverified" do not make a frame unverified.
    ann = rows[1].annotations.get()
    ann.keypoint_states = ["verified"] + ["unverified"] * (K - 1)
    ann.save()
    Frame.objects.filter(pk=rows[2].pk).update(status="accepted")
    return rows


def ids(client, query=""):
    response = client.get(f"/p/demo/frames/{query}")
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    return [int(x) for x in re.findall(r'<li data-frame="(\d+)"', html)], html


def test_the_gallery_pages_through_frames_sixty_at_a_time(frames, users, client):
    client.force_login(users["annotator"])
    first, html = ids(client)
    assert first == [f.pk for f in frames[:60]]
    assert f'id="gallery-next" href="?after={frames[59].pk}"' in html
    second, html = ids(client, f"?after={frames[59].pk}")
    assert second == [f.pk for f in frames[60:]] and 'id="gallery-next"' not in html and 'id="gallery-first"' in html


def test_thumbnails_come_from_the_checked_endpoint_and_frames_without_one_show_a_placeholder(frames, users,
                                                                                              client):
    client.force_login(users["annotator"])
    _, html = ids(client, "?clip=c1")
    assert f'src="/api/projects/demo/frames/{frames[0].pk}/thumbnail/"' in html
    assert html.count('<span class="thumb placeholder">no thumbnail</span>') == 39
    assert f'href="/p/demo/frames/{frames[0].pk}/edit/"' in html
    assert 'href="/p/demo/clips/c1/timeline/"' in html and 'id="gallery-timeline"' in html


def test_filters_by_status_split_label_clip_and_verified_state(frames, users, client):
    client.force_login(users["annotator"])
    pk = [f.pk for f in frames]
    assert ids(client, "?status=accepted")[0] == [pk[2]]
    assert ids(client, "?split=val")[0] == pk[40:80]
    assert ids(client, "?label=correct")[0] == [pk[0], pk[2], pk[4]]
    assert ids(client, "?clip=c2&split=train")[0] == []
    assert ids(client, "?verified=verified")[0] == pk[0:3]
    assert ids(client, "?verified=unverified")[0] == pk[3:6]
    assert ids(client, "?verified=none&clip=c1")[0] == pk[6:40]
    assert ids(client, "?label=none&verified=unverified")[0] == [pk[3], pk[5]]
    _, html = ids(client, "?label=correct")
    assert '<span class="label">Correct form</span>' in html


@pytest.mark.parametrize("query, field", [("?status=done", "status"), ("?split=holdout", "split"),
                                          ("?label=nope", "label"), ("?clip=zz", "clip"),
                                          ("?verified=maybe", "verified"), ("?after=-3", "after")])
def test_a_filter_it_cannot_use_gets_a_400_naming_it(frames, users, client, query, field):
    client.force_login(users["annotator"])
    response = client.get(f"/p/demo/frames/{query}")
    assert response.status_code == 400
    assert f"&#x27;{field}&#x27;" in response.content.decode()


def test_outsiders_cannot_see_the_gallery(frames, users, client):
    client.force_login(users["outsider"])
    assert client.get("/p/demo/frames/").status_code == 404


def test_the_clip_list_and_a_clips_page_link_to_the_timeline_and_thumbnails(frames, users, client):
    client.force_login(users["annotator"])
    html = client.get("/p/demo/clips/").content.decode()
    assert 'class="timeline-link" href="/p/demo/clips/c1/timeline/"' in html
    assert 'href="/p/demo/frames/?clip=c2"' in html and 'id="frames-link"' in html
    html = client.get("/p/demo/clips/c1/").content.decode()
    assert 'id="clip-timeline-link" class="button" href="/p/demo/clips/c1/timeline/"' in html
    assert f'src="/api/projects/demo/frames/{frames[0].pk}/thumbnail/"' in html


def test_the_clip_list_counts_frames_and_annotated_frames_a_page_of_clips_at_a_time(frames, project, users, client):
    from annotations.models import Clip

    Clip.objects.bulk_create([Clip(project=project, key=f"z{i:03d}") for i in range(120)])
    client.force_login(users["annotator"])
    html = client.get("/p/demo/clips/").content.decode()
    rows = re.findall(r'<tr><td><a href="/p/demo/clips/([^/]+)/">[^<]+</a></td><td>(\d+)</td><td>(\d+)</td>', html)
    assert rows[:2] == [("c1", "40", "6"), ("c2", "40", "0")] and len(rows) == 100
    assert 'id="clips-next" href="?page=2"' in html
    html = client.get("/p/demo/clips/?page=2").content.decode()
    assert len(re.findall(r'<tr><td><a href="/p/demo/clips/z', html)) == 22
