"""Dashboard data on the demo project: every chart's JSON and CSV, with figures checked against the data."""

import csv
import io

import pytest

from annotations.dashboards.charts import has_data
from annotations.dashboards.registry import boards
from annotations.datasets import splitting
from annotations.models import Annotation, Frame, ModelStatus, ModelVersion, Queue, SimulationRun
from annotations.review import decisions as review
from annotations.review import editing, queues
from tests.annotations.consensus.helpers import finish_consensus
from tests.annotations.gold.helpers import submit_honeypot
from tests.conftest import api_client

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def kp_metrics(ap, mean_oks, errors):
    return {"keypoints": {"oks_ap": {"AP": ap}, "mean_oks": mean_oks, "pck@0.05": mean_oks / 2, "pck@0.1": mean_oks,
                          "mean_pixel_error": 10.0, "per_keypoint_mean_error": errors, "gt_instances": 40},
            "heldout_frames": 40}


def form_metrics(f1, acc, cm):
    return {"form": {"f1": f1, "f1_macro": f1, "accuracy": acc, "labels": ["correct", "lumbar_error"],
                     "f1_per_label": {"correct": f1, "lumbar_error": f1}, "confusion_matrix": cm, "n": 40},
            "heldout_frames": 40}


@pytest.fixture
def busy(imported, users):
    """The demo project with a split, edits by two people on one frame, a review decision, two model
    versions, two stored simulation runs and scored queues."""
    splitting.create_split(imported)
    anns = list(Annotation.objects.filter(project=imported).order_by("id")[:3])
    for ann in anns:  # the annotator nudges three frames' noses
        kp = list(ann.keypoints)
        kp[0] += 3
        editing.save_edit(ann.pk, users["annotator"], {"keypoints": kp}, ann.version)
    first = Annotation.objects.get(pk=anns[0].pk)
    kp = list(first.keypoints)
    kp[3] += 4
    editing.save_edit(first.pk, users["reviewer"], {"keypoints": kp}, first.version)  # a second person, same frame
    review.submit(first.frame, users["annotator"])
    review.decide(Frame.objects.get(pk=first.frame_id), users["reviewer"], "accept")
    names = imported.skeleton["keypoints"]
    for n, (ap, oks, f1) in enumerate([(0.2, 0.5, 0.55), (0.4, 0.65, 0.6)], start=1):
        errors = {k: (None if k.startswith("spine") else 20.0 / n) for k in names}
        ModelVersion.objects.create(project=imported, kind="keypoints", number=n, status=ModelStatus.READY,
                                    is_active=n == 2, training_frames=50 * n, metrics=kp_metrics(ap, oks, errors),
                                    heldout_clips=["52735_4"])
        ModelVersion.objects.create(project=imported, kind="form", number=n, status=ModelStatus.READY,
                                    is_active=n == 2, training_frames=50 * n,
                                    metrics=form_metrics(f1, f1, [[15, 5], [8, 12]]))
    for strategy, values in (("uncertainty", (0.3, 0.5)), ("random", (0.3, 0.4))):
        SimulationRun.objects.create(project=imported, strategy=strategy, seed=0, batch=10, seed_frames=10,
                                     finished=True, heldout_clips=["52735_4"], params={"rounds": 2},
                                     rounds=[{"round": i, "labelled_frames": 10 + 10 * i,
                                              "keypoints": {"mean_oks": v}, "form": {"f1_macro": v}}
                                             for i, v in enumerate(values)])
    pool = list(Frame.objects.filter(project=imported, annotations__isnull=True).values_list("id", flat=True)[:30])
    queues.set_priorities(imported, Queue.UNCERTAIN, {f: i / 30 for i, f in enumerate(pool)},
                          {f: {"main_signal": "flip" if i % 3 else "confidence"} for i, f in enumerate(pool)})
    queues.refresh_builtin_queues(imported, seed=1)
    last = Annotation.objects.filter(project=imported).order_by("-frame_id").first()
    submit_honeypot(imported, last.frame_id, users["pi"], users["annotator"])  # the gold accuracy chart
    # The consensus charts: two people 60 px apart on a frame (disputed; its form label unchanged).
    other = Annotation.objects.filter(project=imported).exclude(pk=last.pk).order_by("-frame_id").first()
    finish_consensus(imported, other.frame_id, [users["pi"], users["reviewer"]], [0, 60], users["pi"])
    return imported


def get_chart(client, board, name, fmt="json"):
    response = client.get(f"/api/projects/demo/dashboards/{board}/{name}.{fmt}")
    assert response.status_code == 200, (name, response.content[:300])
    return response


def test_every_chart_has_data_and_its_csv_holds_the_same_table(busy, users):
    client = api_client(users["pi"])
    index = client.get("/api/projects/demo/dashboards/").json()
    for board, charts in boards().items():
        assert set(index[board]["charts"]) == set(charts)
        for name in charts:
            table = get_chart(client, board, name).json()
            assert has_data(table), f"{board}/{name} has no data: {table['note']}"
            text = get_chart(client, board, name, "csv").content.decode()
            rows = list(csv.reader(io.StringIO(text)))
            assert rows[0] == table["columns"] and len(rows) - 1 == len(table["rows"]), name


def test_dataset_figures_match_the_demo_data(busy, users):
    client = api_client(users["pi"])
    status = dict(get_chart(client, "dataset", "frames_by_status").json()["rows"])
    assert sum(status.values()) == 1043 and status["accepted"] == 1
    by_split = get_chart(client, "dataset", "labels_by_split").json()["rows"]
    assert sum(r[2] for r in by_split) == 210 and {r[0] for r in by_split} == {"train", "val", "test"}
    legend = [d["label"] for d in get_chart(client, "dataset", "labels_by_split").json()["chart"]["data"]["datasets"]]
    assert legend == ["Correct form", "Lumbar error"]  # display names, not the stored "lumbar_error"
    clips = get_chart(client, "dataset", "clip_coverage").json()["rows"]
    assert sum(1 for r in clips if r[2] > 0) == 19 and sum(r[1] for r in clips) == 1043
    people = {r[0]: r for r in get_chart(client, "dataset", "annotator_throughput").json()["rows"]}
    assert people["annotator"][1] == 3 and people["reviewer"][1] == 1
    assert people["annotator"][3] is not None  # a median from the gaps between their three saves
    agreement = get_chart(client, "dataset", "agreement").json()["rows"]
    assert len(agreement) == 1 and agreement[0][1:3] == ["annotator", "reviewer"] and 0.9 < agreement[0][3] <= 1
    spine = {r[0]: r for r in get_chart(client, "dataset", "spine_verified").json()["rows"]}
    assert set(spine) == {"neck", "hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05"}
    assert all(r[2] == 0 and r[1] > 0 for r in spine.values())  # placed by the heuristic, nobody verified them


def test_model_figures_come_from_the_versions_and_the_stored_simulations(busy, users):
    client = api_client(users["pi"])
    trend = get_chart(client, "models", "versions_trend").json()
    assert [r[0] for r in trend["rows"]] == [1, 2]
    cols = trend["columns"]
    assert [r[cols.index("oks_ap")] for r in trend["rows"]] == [0.2, 0.4]
    assert [r[cols.index("form_f1_macro")] for r in trend["rows"]] == [0.55, 0.6]
    errors = get_chart(client, "models", "keypoint_errors").json()
    assert "spine_03" in errors["columns"] and "spine_03" in errors["note"]
    confusion = get_chart(client, "models", "form_confusion").json()
    assert confusion["title"].endswith("v2") and [d["data"] for d in confusion["chart"]["data"]["datasets"]] == [
        [15, 8], [5, 12]]
    curve = get_chart(client, "models", "learning_curve").json()["chart"]["data"]["datasets"]
    assert curve[0]["data"] == [{"x": 50, "y": 0.5}, {"x": 100, "y": 0.65}]
    sim = get_chart(client, "models", "simulation_keypoints").json()["chart"]["data"]["datasets"]
    assert {d["label"].split(" ")[0]: d["data"][-1]["y"] for d in sim} == {"random": 0.4, "uncertainty": 0.5}


def test_queue_figures(busy, users):
    client = api_client(users["pi"])
    sizes = {r[0]: r for r in get_chart(client, "queues", "queue_sizes").json()["rows"]}
    assert sizes["uncertain"][1] == 30 and sizes["review"][2] == 1  # the accepted frame left the review queue
    mix = {(r[0], r[1]): r[2] for r in get_chart(client, "queues", "signal_mix").json()["rows"]}
    assert mix[("uncertain", "flip")] == 20 and mix[("uncertain", "confidence")] == 10
    ages = {r[0]: r for r in get_chart(client, "queues", "queue_age").json()["rows"]}
    assert ages["uncertain"][1] is not None and ages["uncertain"][1] < 1


def test_dashboards_are_for_pis(busy, users):
    assert api_client(users["annotator"]).get("/api/projects/demo/dashboards/dataset/frames_by_status.json") \
        .status_code == 403
    assert api_client(users["outsider"]).get("/api/projects/demo/dashboards/").status_code == 404
    assert api_client(users["pi"]).get("/api/projects/demo/dashboards/dataset/nothing.json").status_code == 404
    assert api_client(users["pi"]).get("/api/projects/demo/dashboards/dataset/agreement.xml").status_code == 404


def test_the_pages_render_for_a_pi_and_the_models_page_for_a_reviewer(busy, users, client):
    client.force_login(users["pi"])
    for board in ("dataset", "models", "queues"):
        page = client.get(f"/p/demo/dashboards/{board}/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "vendor/chart.umd.min.js" in html and "cdn" not in html.lower()
        assert html.count('class="card chart-card"') == len(boards()[board])
    assert 'id="learning-links"' in client.get("/p/demo/").content.decode()
    client.force_login(users["reviewer"])
    assert client.get("/p/demo/dashboards/dataset/").status_code == 403
    page = client.get("/p/demo/models/").content.decode()
    assert "keypoints v2" in page and "upload-form" not in page  # uploads are for the PI
