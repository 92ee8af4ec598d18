"""Compact columns for an annotation's points: keypoints as double precision[], states as smallint[].

Python sees what it always saw: keypoints a flat list [x1, y1, v1, ...] with each v an int, states a
list of KeypointState values (strings). Only raw SQL and the COPY/export fast paths see the storage.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

# smallint code of each KeypointState value (the stored form); never renumber, the data depends on it.
STATE_CODES = {"unverified": 0, "verified": 1, "predicted": 2, "heuristic": 3}
STATE_NAMES = {code: name for name, code in STATE_CODES.items()}
VERIFIED_CODE = STATE_CODES["verified"]


class KeypointsField(ArrayField):
    """Flat COCO keypoints (3K,) as double precision[]: x and y exact, visibility read back as int."""

    def __init__(self, **kwargs):
        kwargs["base_field"] = models.FloatField()
        super().__init__(**kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        kwargs.pop("base_field", None)
        return name, "annotations.models.point_fields.KeypointsField", args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is not None:
            value[2::3] = [int(v) for v in value[2::3]]
        return value


class KeypointStatesField(ArrayField):
    """Per-keypoint states (K,) stored as smallint codes (STATE_CODES), read back as their names."""

    def __init__(self, **kwargs):
        kwargs["base_field"] = models.SmallIntegerField()
        super().__init__(**kwargs)

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        kwargs.pop("base_field", None)
        return name, "annotations.models.point_fields.KeypointStatesField", args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is None:
            return value
        return [STATE_NAMES[code] for code in value]

    def get_db_prep_value(self, value, connection, prepared=False):
        if isinstance(value, (list, tuple)):
            value = [state_code(s) for s in value]
        return super().get_db_prep_value(value, connection, prepared)


def state_code(state) -> int:
    """The stored code of a keypoint state name (a code passes through); ValueError for anything else."""
    if isinstance(state, int) and not isinstance(state, bool) and state in STATE_NAMES:
        return state
    try:
        return STATE_CODES[state]
    except (KeyError, TypeError):
        raise ValueError(f"unknown keypoint state {state!r}; expected one of {sorted(STATE_CODES)}") from None
