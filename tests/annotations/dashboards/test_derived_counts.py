"""The spine and agreement charts read counts and scores that triggers keep (migration 0012): their figures
equal a direct computation from the annotations and revisions, after inserts, edits, moves and deletes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from annotations.dashboards.dataset_board import SPINE_PREFIXES, agreement, spine_verified
from annotations.models import Annotation, Clip, Frame, Revision
from mlcore import metrics

pytestmark = pytest.mark.django_db(databases=["default", "jobstate"])


def direct_spine(project) -> list[list]:
    """[keypoint, labelled, verified, share] counted in Python from every annotation of the project."""
    names = project.skeleton["keypoints"]
    anns = list(Annotation.objects.filter(project=project).values_list("keypoints", "keypoint_states"))
    rows = []
    for i, name in enumerate(names):
        if not name.startswith(SPINE_PREFIXES):
            continue
        labelled = [s for kp, s in anns if len(kp) > 3 * i + 2 and kp[3 * i + 2] > 0]
        verified = sum(1 for s in labelled if len(s) > i and s[i] == "verified")
        rows.append([name, len(labelled), verified, round(verified / len(labelled), 3) if labelled else 0.0])
    return rows


def direct_agreement(project) -> list[list]:
    """[frame, user_a, user_b, oks, same label] from each person's last edit/restore snapshot, by mlcore."""
    sigmas = np.asarray(project.skeleton["sigmas"], dtype=np.float64)
    K = len(sigmas)
    last: dict[tuple[int, str], dict] = {}
    for r in (Revision.objects.filter(project=project, kind__in=["edit", "restore"], after__isnull=False,
                                      user__isnull=False).select_related("user").order_by("created_at", "id")):
        last[(r.frame_id, r.user.username)] = r.after

    def points(snapshot: dict) -> np.ndarray:
        out = np.zeros(3 * K)
        kp = (snapshot.get("keypoints") or [])[: 3 * K]
        out[: len(kp)] = kp
        return out.reshape(K, 3)

    rows = []
    for frame in sorted({f for f, _ in last}):
        people = sorted(u for f, u in last if f == frame)
        for ua, ub in itertools.combinations(people, 2):
            sa, sb = last[(frame, ua)], last[(frame, ub)]
            a, b = points(sa), points(sb)
            area = float(sb.get("area") or 0.0) or float(sa.get("area") or 0.0)
            if area <= 0 or not ((a[:, 2] > 0) & (b[:, 2] > 0)).any():
                continue
            oks = metrics.oks(a[None], b[None], np.asarray([area]), sigmas)[0]
            rows.append([frame, ua, ub, round(float(oks), 4), sa.get("form_label") == sb.get("form_label")])
    return rows


@pytest.fixture
def labelled(project, users, django_user_model):
    """Two clips of 6 frames with annotations of varied points and states, and edits, restores and other
    revisions by four people (snapshots of other lengths, without or with zero area, without labels)."""
    K = project.num_keypoints
    people = [users["annotator"], users["reviewer"], users["pi"], django_user_model.objects.create_user("zed")]
    clips = [Clip.objects.create(project=project, key=f"c{i}") for i in range(2)]
    frames = Frame.objects.bulk_create(
        Frame(project=project, clip=clips[i // 6], file_name=f"f{i}.jpg", width=100, height=100, frame_index=i % 6,
              status="annotated", source_path=f"/nowhere/f{i}.jpg") for i in range(12))
    rng = np.random.default_rng(3)

    def snapshot(n: int, label: str | None) -> tuple[list, list]:
        kp = []
        for _ in range(K):
            kp += [float(rng.integers(10, 90)), float(rng.integers(10, 90)), int(rng.choice([0, 1, 2]))]
        states = [str(rng.choice(["verified", "unverified", "predicted"])) for _ in range(K)]
        return kp[: 3 * n], states[:n]

    anns = []
    for i, f in enumerate(frames):
        kp, states = snapshot(K, None)
        anns.append(Annotation(project=project, frame=f, keypoints=kp, keypoint_states=states, num_keypoints=K,
                               bbox=[0, 0, 50, 80], area=2000.0 + 100 * i))
    Annotation.objects.bulk_create(anns)
    revisions = []
    for i, f in enumerate(frames):
        for j, who in enumerate(people[: 1 + i % 4]):
            for n in range(2):  # an older and a newer save: only the newer one counts
                kp, _ = snapshot(K - (3 if (i + j) % 5 == 0 else 0), None)
                after = {"keypoints": kp, "area": [1500.0, 0, None, 900.0][(i + j + n) % 4],
                         "form_label": ["correct", "lumbar_error", None][(i * j + n) % 3]}
                revisions.append(Revision(project=project, frame=f, user=who, kind=["edit", "restore"][(i + n) % 2],
                                          after=after))
            revisions.append(Revision(project=project, frame=f, user=who, kind="review", after={"keypoints": []}))
    Revision.objects.bulk_create(revisions)
    return project


def same_figures(project) -> None:
    assert spine_verified(project)["rows"] == direct_spine(project)
    assert agreement(project)["rows"] == direct_agreement(project)


def test_the_charts_match_a_direct_computation(labelled):
    spine, pairs = spine_verified(labelled)["rows"], agreement(labelled)["rows"]
    assert spine and all(r[1] > 0 for r in spine)
    assert len({r[0] for r in pairs}) >= 6 and {r[4] for r in pairs} == {True, False}
    same_figures(labelled)


def test_the_figures_follow_edits_moves_and_deletes(labelled, users, django_user_model):
    anns = list(Annotation.objects.filter(project=labelled).order_by("id"))
    ann = anns[0]
    ann.keypoints = [v if k % 3 != 2 else 2 for k, v in enumerate(ann.keypoints)]
    ann.keypoint_states = ["verified"] * len(ann.keypoint_states)
    ann.save()
    Annotation.objects.filter(pk=anns[1].pk).update(keypoints=[0.0] * len(anns[1].keypoints))
    same_figures(labelled)
    anns[2].delete()
    moved = Frame.objects.get(pk=anns[3].frame_id)
    moved.clip = Clip.objects.create(project=labelled, key="c2")
    moved.save()
    same_figures(labelled)
    Frame.objects.filter(pk=anns[4].frame_id).delete()
    Revision.objects.create(project=labelled, frame_id=anns[5].frame_id, user=users["outsider"], kind="edit",
                            after={"keypoints": anns[5].keypoints, "area": 1000.0, "form_label": "correct"})
    same_figures(labelled)
    django_user_model.objects.filter(username="zed").delete()  # their revisions keep no user
    users["annotator"].username = "zz-annotator"  # now second in every pair it is in
    users["annotator"].save()
    same_figures(labelled)
    Clip.objects.filter(key="c0").delete()
    same_figures(labelled)
