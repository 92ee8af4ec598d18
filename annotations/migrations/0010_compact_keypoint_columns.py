"""Annotation keypoints jsonb -> double precision[], keypoint states jsonb strings -> smallint[] codes.

Existing rows are converted in place (a list that is not all numbers, or a state that is not one of
the four, makes the migration fail rather than lose it). Codes: unverified 0, verified 1, predicted 2,
heuristic 3 (annotations.models.point_fields.STATE_CODES).
"""

from django.db import migrations

import annotations.models.point_fields

TABLE = "annotations_annotation"

FORWARD = f"""
ALTER TABLE {TABLE}
    ALTER COLUMN keypoints TYPE double precision[]
        USING translate(keypoints::text, '[]', '{{}}')::double precision[],
    ALTER COLUMN keypoint_states TYPE smallint[]
        USING translate(replace(replace(replace(replace(keypoint_states::text,
            '"unverified"', '0'), '"verified"', '1'), '"predicted"', '2'), '"heuristic"', '3'),
            '[]', '{{}}')::smallint[],
    -- The planner never filters on these: ANALYZE (run after every large import) skips them.
    ALTER COLUMN keypoints SET STATISTICS 0,
    ALTER COLUMN keypoint_states SET STATISTICS 0,
    ALTER COLUMN bbox SET STATISTICS 0;
"""

BACKWARD = f"""
ALTER TABLE {TABLE}
    ALTER COLUMN keypoints TYPE jsonb USING to_jsonb(keypoints),
    ALTER COLUMN keypoint_states TYPE jsonb
        USING translate(replace(replace(replace(replace(keypoint_states::text,
            '0', '"unverified"'), '1', '"verified"'), '2', '"predicted"'), '3', '"heuristic"'),
            '{{}}', '[]')::jsonb,
    ALTER COLUMN keypoints SET STATISTICS -1,
    ALTER COLUMN keypoint_states SET STATISTICS -1,
    ALTER COLUMN bbox SET STATISTICS -1;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("annotations", "0009_consensus"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="annotation",
                    name="keypoints",
                    field=annotations.models.point_fields.KeypointsField(),
                ),
                migrations.AlterField(
                    model_name="annotation",
                    name="keypoint_states",
                    field=annotations.models.point_fields.KeypointStatesField(),
                ),
            ],
        ),
    ]
