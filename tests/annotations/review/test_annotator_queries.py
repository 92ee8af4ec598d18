"""Query counts of the annotator's loop (claim, editor payload, image, save, submit), pinned: a change that
adds a query to any of them (an N+1, a repeated permission lookup) fails here. Signed in with a session,
as the browser is; the counts include reading the session and the user."""

from __future__ import annotations

import pytest
from django.test import Client

from annotations.models import Annotation, Frame
from annotations.review.editing import create_annotation
from annotations.review.queues import set_priorities

pytestmark = pytest.mark.django_db

API = "/api/projects/demo/"
# The most queries each request of the loop may make (measured; lower is fine). The editor asks once
# whether the frame or its neighbours are gold (annotators see those as pool frames).
BUDGET = {"claim": 13, "editor": 12, "image": 4, "save": 12, "submit": 27}


@pytest.fixture
def browser(imported, users):
    """The annotator signed in, every imported frame with an image and points in the `uncertain` queue."""
    with_image = imported.frames.exclude(source_path="").filter(annotations__instance=0).values_list("id", flat=True)
    set_priorities(imported, "uncertain", {f: float(f) for f in with_image})
    client = Client()
    client.force_login(users["annotator"])
    client.get(f"{API}queues/")  # the first request of a process warms per-process caches
    return client


def test_each_request_of_the_annotator_loop_stays_within_its_query_budget(browser, django_assert_max_num_queries):
    with django_assert_max_num_queries(BUDGET["claim"]):
        item = browser.post(f"{API}queues/uncertain/claim/", {}, content_type="application/json").json()["item"]
    frame_id = item["frame"]
    browser.get(f"{API}frames/{frame_id}/editor/")  # the project's mean pose is computed once, then cached
    with django_assert_max_num_queries(BUDGET["editor"]):
        payload = browser.get(f"{API}frames/{frame_id}/editor/").json()
    with django_assert_max_num_queries(BUDGET["image"]):
        assert browser.get(payload["frame"]["image_url"]).status_code == 200
    ann = payload["annotation"]
    body = {"keypoints": ann["keypoints"], "keypoint_states": ann["keypoint_states"], "form_label": ann["form_label"],
            "version": ann["version"], "queue": "uncertain"}
    body["keypoints"][0] += 1
    with django_assert_max_num_queries(BUDGET["save"]):
        saved = browser.patch(f"{API}annotations/{ann['id']}/", body, content_type="application/json")
    assert saved.status_code == 200 and saved.json()["version"] == ann["version"] + 1
    with django_assert_max_num_queries(BUDGET["submit"]):
        done = browser.post(f"{API}frames/{frame_id}/submit/", {"queue": "uncertain", "next": True},
                            content_type="application/json").json()
    assert done["status"] == "submitted" and done["next"]["frame"] != frame_id


def test_the_editor_payload_does_not_query_per_person_or_per_neighbour(browser, users, imported,
                                                                       django_assert_num_queries):
    frame = Frame.objects.filter(project=imported, frame_index__isnull=False).order_by("clip_id", "frame_index")[1]
    browser.get(f"{API}frames/{frame.pk}/editor/")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        browser.get(f"{API}frames/{frame.pk}/editor/")
    K = imported.num_keypoints
    for instance in (1, 2, 3):  # three more people on the frame
        create_annotation(frame, users["annotator"], {"keypoints": [10.0, 10.0, 2] * K}, instance)
    assert Annotation.objects.filter(frame=frame).count() == 4
    with django_assert_num_queries(len(one.captured_queries)):
        data = browser.get(f"{API}frames/{frame.pk}/editor/").json()
    assert len(data["instances"]) == 4


def test_the_mean_pose_is_read_once_and_then_comes_from_the_cache(browser, imported):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    frame_id = imported.frames.values_list("id", flat=True).first()
    with CaptureQueriesContext(connection) as first:
        a = browser.get(f"{API}frames/{frame_id}/editor/").json()["template"]
    with CaptureQueriesContext(connection) as second:
        b = browser.get(f"{API}frames/{frame_id}/editor/").json()["template"]
    assert a == b
    assert len(second.captured_queries) == len(first.captured_queries) - 1
