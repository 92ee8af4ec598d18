"""The documented filters of the REST lists (django-filter FilterSets): each one narrows the list to what it
names, to annotators a gold frame is found as the unlabelled pool frame it reads as, every bad value is a
400 whose `detail` names the parameter, and the schema lists each filter (with its choices)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import api_client

pytestmark = pytest.mark.django_db

BASE = "/api/projects/demo"


@pytest.fixture
def frames(project):
    """Six frames: clips a and b, splits train/val/none, statuses unlabelled/accepted; {name: Frame}."""
    from annotations.models import Clip, Frame

    a, b = Clip.objects.create(project=project, key="a"), Clip.objects.create(project=project, key="b")
    rows = {"a_train_new": (a, "train", "unlabelled"), "a_train_done": (a, "train", "accepted"),
            "a_val_done": (a, "val", "accepted"), "b_val_new": (b, "val", "unlabelled"),
            "b_none_new": (b, "", "unlabelled"), "b_test_done": (b, "test", "accepted")}
    return {name: Frame.objects.create(project=project, clip=clip, split=split, status=status, width=64, height=48,
                                       file_name=f"{name}.jpg", frame_index=i)
            for i, (name, (clip, split, status)) in enumerate(rows.items())}


def listed(user, path: str, **query) -> list[int]:
    r = api_client(user).get(f"{BASE}/{path}/", query)
    assert r.status_code == 200, r.content[:300]
    return [row["id"] for row in r.json()["results"]]


def ids(frames, *names) -> list[int]:
    return sorted(frames[n].pk for n in names)


@pytest.mark.parametrize("query, expected", [
    ({"split": "train"}, ["a_train_new", "a_train_done"]),
    ({"split": "val"}, ["a_val_done", "b_val_new"]),
    ({"status": "accepted"}, ["a_train_done", "a_val_done", "b_test_done"]),
    ({"clip": "b"}, ["b_val_new", "b_none_new", "b_test_done"]),
    ({"clip": "a", "status": "accepted", "split": "val"}, ["a_val_done"]),
    ({"clip": "nope"}, []),
    ({"split": "", "status": "", "clip": ""}, ["a_train_new", "a_train_done", "a_val_done", "b_val_new",
                                               "b_none_new", "b_test_done"]),
])
def test_each_frame_filter_narrows_the_list_to_what_it_names(frames, users, query, expected):
    assert listed(users["annotator"], "frames", **query) == ids(frames, *expected)


def test_to_an_annotator_a_gold_frame_is_found_only_as_an_unlabelled_pool_frame(frames, users):
    from annotations.models import GoldFrame

    gold = frames["a_val_done"]
    GoldFrame.objects.create(project=gold.project, frame=gold, keypoints=[], keypoint_states=[], bbox=[0, 0, 1, 1],
                             area=1.0)
    annotator, reviewer = users["annotator"], users["reviewer"]
    assert gold.pk in listed(annotator, "frames", status="unlabelled", split="val")
    assert gold.pk not in listed(annotator, "frames", status="accepted")
    assert gold.pk not in listed(annotator, "frames", status="unlabelled", split="train")
    assert gold.pk in listed(reviewer, "frames", status="accepted", clip="a")
    assert gold.pk not in listed(reviewer, "frames", status="unlabelled")
    row = api_client(annotator).get(f"{BASE}/frames/", {"clip": "a", "split": "val"}).json()["results"][0]
    assert row["id"] == gold.pk and row["status"] == "unlabelled" and row["annotations"] == []


def test_revision_filters_narrow_by_frame_and_annotation(frames, users):
    from annotations.models import Annotation, Revision

    one, two = frames["a_train_new"], frames["b_val_new"]
    ann = Annotation.objects.create(project=one.project, frame=one, keypoints=[], keypoint_states=[],
                                    bbox=[0, 0, 1, 1], area=1.0)
    made = {name: Revision.objects.create(project=one.project, frame=frame, annotation=a, kind="edit").pk
            for name, frame, a in (("one_ann", one, ann), ("one_bare", one, None), ("two", two, None))}
    reviewer = users["annotator"]
    assert sorted(listed(reviewer, "revisions", frame=one.pk)) == sorted([made["one_ann"], made["one_bare"]])
    assert listed(reviewer, "revisions", annotation=ann.pk) == [made["one_ann"]]
    assert listed(reviewer, "revisions", frame=two.pk, annotation=ann.pk) == []
    assert sorted(listed(reviewer, "revisions")) == sorted(made.values())


def test_the_model_list_filter_narrows_by_kind(project, users):
    from annotations.models import ModelVersion

    kp = ModelVersion.objects.create(project=project, kind="keypoints", number=1)
    form = ModelVersion.objects.create(project=project, kind="form", number=1)
    client = api_client(users["annotator"])
    assert [m["id"] for m in client.get(f"{BASE}/models/", {"kind": "keypoints"}).json()] == [kp.pk]
    assert [m["id"] for m in client.get(f"{BASE}/models/", {"kind": "form"}).json()] == [form.pk]
    assert len(client.get(f"{BASE}/models/").json()) == 2


def test_the_job_list_filters_narrow_by_kind_and_state(project, users):
    from annotations.models import Job

    done = Job.objects.create(project=project, kind="export", status="succeeded")
    failed = Job.objects.create(project=project, kind="import", status="failed")
    queued = Job.objects.create(project=project, kind="export", status="queued")
    Job.objects.create(kind="export", status="queued")  # another project's (none): never listed
    assert sorted(listed(users["annotator"], "jobs", kind="export")) == sorted([done.pk, queued.pk])
    assert listed(users["annotator"], "jobs", status="failed") == [failed.pk]
    assert listed(users["annotator"], "jobs", kind="export", status="queued") == [queued.pk]
    assert sorted(listed(users["annotator"], "jobs")) == sorted([done.pk, failed.pk, queued.pk])


@pytest.mark.parametrize("path, query, name", [
    ("frames", "split=nonsense", "split"), ("frames", "split=train%00", "split"),
    ("frames", "status=Accepted", "status"), ("frames", "status=%00", "status"),
    ("frames", "clip=a%00", "clip"), ("frames", f"clip={'c' * 201}", "clip"),
    ("revisions", "frame=abc", "frame"), ("revisions", "frame=-1", "frame"), ("revisions", "frame=1.5", "frame"),
    ("revisions", "annotation=99999999999999999999", "annotation"), ("revisions", "annotation=%00", "annotation"),
    ("gold/attempts", "frame=2147483648", "frame"), ("gold/attempts", "user=x%00", "user"),
    ("gold/attempts", f"user={'u' * 201}", "user"), ("models", "kind=nonsense", "kind"),
    ("jobs", "kind=nonsense", "kind"), ("jobs", "status=%00", "status"),
])
def test_each_bad_filter_value_is_a_400_naming_the_parameter(project, users, path, query, name):
    r = api_client(users["reviewer"]).get(f"{BASE}/{path}/?{query}")
    assert r.status_code == 400, r.content[:300]
    assert r.json()["detail"].startswith(f"'{name}'"), r.json()


def test_a_choice_filter_says_which_values_it_takes(project, users):
    detail = api_client(users["annotator"]).get(f"{BASE}/frames/?split=nope").json()["detail"]
    assert "['test', 'train', 'val']" in detail


def test_a_filter_of_a_project_the_caller_is_not_in_is_a_404_before_its_values_are_read(project, users):
    assert api_client(users["outsider"]).get(f"{BASE}/frames/?split=nonsense").status_code == 404
    assert api_client(users["annotator"]).get(f"{BASE}/gold/attempts/?frame=abc").status_code == 403


def test_the_schema_lists_every_filter_with_its_choices(client):
    schema = json.loads(client.get("/api/schema/?format=json").content)
    from annotations.models import FrameStatus, ModelKind, Subset

    def parameters(path: str) -> dict:
        return {p["name"]: p["schema"] for p in schema["paths"][f"/api/projects/{{slug}}/{path}/"]["get"]["parameters"]
                if p["in"] == "query"}

    frames = parameters("frames")
    assert sorted(frames["split"]["enum"]) == sorted(Subset.values)
    assert sorted(frames["status"]["enum"]) == sorted(FrameStatus.values)
    assert frames["clip"] == {"type": "string", "maxLength": 200}
    assert {"limit", "offset"} <= set(frames)
    for path, names in (("revisions", ("frame", "annotation")), ("gold/attempts", ("frame",))):
        for name in names:
            assert parameters(path)[name] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert parameters("gold/attempts")["user"]["type"] == "string"
    assert sorted(parameters("models")["kind"]["enum"]) == sorted(ModelKind.values)
    from annotations.models import Job

    jobs = parameters("jobs")
    assert sorted(jobs["kind"]["enum"]) == sorted(Job.Kind.values)
    assert sorted(jobs["status"]["enum"]) == sorted(Job.Status.values)
    assert {"limit", "offset"} <= set(jobs)
    page = schema["components"]["schemas"]["PaginatedFrameWithGoldList"]
    assert {"count", "next", "previous", "limit", "results"} <= set(page["required"])
    assert "limit_capped" in page["properties"]
