"""Marking, unmarking and importing gold frames; their state in the frames REST (reviewers and PIs only),
in the COCO export and on the pages."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import LUMBAR_JSON, api_client

pytestmark = pytest.mark.django_db

BASE = "/api/projects/demo"


def test_marking_freezes_the_verified_points_and_later_edits_leave_the_gold_alone(imported, users):
    from annotations.models import Annotation, Frame, GoldFrame
    from annotations.review import editing

    ann = Annotation.objects.filter(project=imported).order_by("frame_id").first()
    pool = Frame.objects.filter(project=imported, annotations__isnull=True).values_list("id", flat=True).first()
    pi = api_client(users["pi"])
    result = pi.post(f"{BASE}/gold/frames/", {"frames": [ann.frame_id, pool, 999999999]}, format="json").json()
    assert result["marked"] == [ann.frame_id]
    assert [r["frame"] for r in result["refused"]] == [pool, 999999999]
    gold = GoldFrame.objects.get(frame_id=ann.frame_id)
    heuristic = [i for i, s in enumerate(ann.keypoint_states) if s != "verified"]
    assert heuristic  # the import's spine points, which nobody verified, are not gold
    assert all(gold.keypoints[3 * i:3 * i + 3] == [0, 0, 0] for i in heuristic)
    assert all(gold.keypoints[3 * i:3 * i + 3] == ann.keypoints[3 * i:3 * i + 3]
               for i in range(len(ann.keypoint_states)) if i not in heuristic)
    assert gold.form_label == ann.form_label.name and gold.annotation_version == ann.version
    assert gold.marked_by == users["pi"] and gold.source == "marked"

    kp = list(ann.keypoints)
    kp[0] += 30
    editing.save_edit(ann.pk, users["reviewer"], {"keypoints": kp, "form_label": None}, ann.version)
    gold.refresh_from_db()
    assert gold.keypoints[0] == ann.keypoints[0] and gold.form_label == ann.form_label.name

    assert pi.post(f"{BASE}/gold/frames/unmark/", {"frames": [ann.frame_id]}, format="json").json() == {
        "unmarked": 1}
    assert not GoldFrame.objects.get(frame_id=ann.frame_id).active


def test_only_pis_change_gold_frames_and_bad_input_is_a_400(imported, users):
    from annotations.models import Annotation

    frame_id = Annotation.objects.filter(project=imported).values_list("frame_id", flat=True).first()
    reviewer, annotator, pi = (api_client(users[n]) for n in ("reviewer", "annotator", "pi"))
    assert reviewer.post(f"{BASE}/gold/frames/", {"frames": [frame_id]}, format="json").status_code == 403
    assert reviewer.patch(f"{BASE}/gold/settings/", {"honeypot_rate": 0.5}, format="json").status_code == 403
    assert annotator.get(f"{BASE}/gold/settings/").status_code == 403
    assert annotator.get(f"{BASE}/gold/accuracy/").status_code == 403
    assert api_client(users["outsider"]).get(f"{BASE}/gold/frames/").status_code == 404
    for body in ({"frames": []}, {"frames": "1"}, {"frames": [True]}, {}):
        assert pi.post(f"{BASE}/gold/frames/", body, format="json").status_code == 400, body
    for rate in (1.5, -0.1, "x", None):
        assert pi.patch(f"{BASE}/gold/settings/", {"honeypot_rate": rate}, format="json").status_code == 400
    assert pi.patch(f"{BASE}/gold/settings/", {"honeypot_rate": 0.25}, format="json").json()["honeypot_rate"] == 0.25
    assert reviewer.get(f"{BASE}/gold/settings/").json() == {"honeypot_rate": 0.25, "gold_frames": 0,
                                                             "scored_attempts": 0}


def test_reviewers_see_the_gold_state_in_the_frames_rest_and_annotators_never(gold, users):
    reviewer = api_client(users["reviewer"])
    rows = {f["id"]: f for f in reviewer.get(f"{BASE}/frames/?limit=500").json()["results"]}
    assert rows[gold.frame_id]["gold"]["marked_by"] == "pi"
    assert sum(1 for r in rows.values() if r["gold"]) == 1
    assert reviewer.get(f"{BASE}/frames/{gold.frame_id}/").json()["gold"]["source"] == "marked"
    annotator = api_client(users["annotator"])
    assert "gold" not in annotator.get(f"{BASE}/frames/{gold.frame_id}/").json()
    listed = reviewer.get(f"{BASE}/gold/frames/").json()
    assert listed["count"] == 1 and listed["results"][0]["frame"] == gold.frame_id


def test_a_gold_set_imports_from_a_coco_file_without_touching_the_frames(imported, users):
    from annotations.models import Annotation, GoldFrame

    data = json.loads(LUMBAR_JSON.read_text())
    image = data["images"][0]
    ann = next(a for a in data["annotations"] if a["image_id"] == image["id"])
    ann["keypoints"][0] += 7  # the gold set says the nose is elsewhere
    data["annotations"] = [ann]
    data["images"] = [image, {**image, "id": 10**9, "file_name": "not_here_1.jpg"}]
    frame_ann = Annotation.objects.get(frame__file_name=image["file_name"])
    version = frame_ann.version
    upload = io.BytesIO(json.dumps(data).encode())
    upload.name = "gold.json"
    result = api_client(users["pi"]).post(f"{BASE}/gold/import/", {"file": upload}, format="multipart").json()
    assert result["marked"] == [frame_ann.frame_id] and result["unmatched"] == []
    gold = GoldFrame.objects.get(frame_id=frame_ann.frame_id)
    assert gold.source == "imported" and gold.keypoints[0] == pytest.approx(ann["keypoints"][0])
    frame_ann.refresh_from_db()
    assert frame_ann.version == version and frame_ann.keypoints[0] != gold.keypoints[0]
    bad = io.BytesIO(b"{not json")
    bad.name = "bad.json"
    assert api_client(users["pi"]).post(f"{BASE}/gold/import/", {"file": bad}, format="multipart").status_code == 400


def test_the_coco_export_names_gold_frames_in_the_images_attributes(gold, users, tmp_path):
    from annotations.datasets import exporting
    from annotations.gold import marking
    from tests.annotations.datasets.test_export_streaming import previous_export, without_date

    etag = exporting.coco_etag(gold.project, "all", None, True)
    out = tmp_path / "all.json"
    exporting.export(gold.project, "coco", ["all"], out_path=out)
    streamed = json.loads(out.read_bytes())
    assert without_date(streamed) == without_date(previous_export(gold.project, "all", None, False))
    flagged = [im["id"] for im in streamed["images"] if im.get("attributes", {}).get("gold")]
    assert flagged == [gold.frame_id]
    marking.unmark(gold.project, [gold.frame_id])
    assert exporting.coco_etag(gold.project, "all", None, True) != etag  # the cached download is rebuilt


def test_the_gallery_and_the_gold_page_mark_and_show_gold_frames(imported, users, client):
    from annotations.models import Annotation, GoldFrame

    frame_id = Annotation.objects.filter(project=imported).order_by("frame_id").values_list("frame_id",
                                                                                           flat=True).first()
    client.force_login(users["pi"])
    page = client.get("/p/demo/frames/").content.decode()
    assert "mark gold" in page
    client.post("/p/demo/gold/mark/", {"frame": frame_id, "gold": "1", "next": "/p/demo/frames/"})
    assert GoldFrame.objects.get(frame_id=frame_id).active
    assert 'class="gold-badge"' in client.get("/p/demo/frames/").content.decode()
    client.post("/p/demo/gold/", {"action": "set_rate", "honeypot_rate": "0.2"})
    html = client.get("/p/demo/gold/").content.decode()
    assert 'id="gold-rate-value">0.2<' in html and f'data-frame="{frame_id}"' in html
    client.force_login(users["reviewer"])
    assert client.get("/p/demo/gold/").status_code == 200
    assert client.post("/p/demo/gold/", {"action": "set_rate", "honeypot_rate": "1"}).status_code == 403
    client.force_login(users["annotator"])
    assert client.get("/p/demo/gold/").status_code == 403
    assert "gold" not in client.get("/p/demo/frames/").content.decode().lower()
