"""Keypoints live in double precision[] and states in smallint[] codes; Python sees the lists it always saw."""

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from annotations.models import Annotation, Clip, Frame
from annotations.models.point_fields import STATE_CODES


def make_annotation(project, keypoints, states):
    clip = Clip.objects.create(project=project, key="c1")
    frame = Frame.objects.create(project=project, clip=clip, file_name="c1_0.jpg", width=640, height=480)
    return Annotation.objects.create(project=project, frame=frame, keypoints=keypoints, keypoint_states=states,
                                     bbox=[1.0, 2.0, 3.0, 4.0], area=12.0)


@pytest.mark.django_db
def test_lists_round_trip_with_integer_flags_and_state_names(project):
    ann = make_annotation(project, [10.25, 20.5, 2, 0.123456789, 7, 1], ["verified", "heuristic"])
    ann.refresh_from_db()
    assert ann.keypoints == [10.25, 20.5, 2, 0.123456789, 7, 1]
    assert [type(v) for v in ann.keypoints[2::3]] == [int, int]
    assert ann.keypoint_states == ["verified", "heuristic"]
    assert Annotation.objects.values_list("keypoint_states", flat=True).get(pk=ann.pk) == ["verified", "heuristic"]
    with connection.cursor() as cur:
        cur.execute("SELECT pg_typeof(keypoints)::text, pg_typeof(keypoint_states)::text, keypoint_states "
                    "FROM annotations_annotation WHERE id = %s", [ann.pk])
        assert cur.fetchone() == ("double precision[]", "smallint[]",
                                  [STATE_CODES["verified"], STATE_CODES["heuristic"]])


@pytest.mark.django_db
def test_an_unknown_state_is_refused_with_its_name(project):
    ann = make_annotation(project, [1, 2, 2], ["verified"])
    with pytest.raises(ValueError, match="unknown keypoint state 'checked'"), transaction.atomic():
        Annotation.objects.filter(pk=ann.pk).update(keypoint_states=["checked"])
    ann.refresh_from_db()
    assert ann.keypoint_states == ["verified"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_stored_json_both_ways(project):
    ann = make_annotation(project, [10.25, 20.5, 2, 0, 0, 0], ["verified", "unverified"])
    executor = MigrationExecutor(connection)
    before = [("annotations", "0009_consensus")]
    after = [("annotations", "0010_compact_keypoint_columns")]
    latest = executor.loader.graph.leaf_nodes("annotations")
    try:
        executor.migrate(before)
        with connection.cursor() as cur:
            cur.execute("SELECT keypoints::text, keypoint_states::text FROM annotations_annotation WHERE id = %s",
                        [ann.pk])
            assert cur.fetchone() == ("[10.25, 20.5, 2, 0, 0, 0]", '["verified", "unverified"]')
            cur.execute("""UPDATE annotations_annotation SET keypoints = '[1.5, -2, 1, 3, 4.75, 2]',
                           keypoint_states = '["predicted", "heuristic"]' WHERE id = %s""", [ann.pk])
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        MigrationExecutor(connection).migrate(latest)
    ann.refresh_from_db()
    assert ann.keypoints == [1.5, -2, 1, 3, 4.75, 2]
    assert ann.keypoint_states == ["predicted", "heuristic"]
