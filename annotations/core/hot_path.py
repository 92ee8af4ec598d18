"""Questions the annotator's loop asks on every request and nearly always answers with "none": is there
an open honeypot, does someone else hold this frame. Asked as one raw statement each, because building
and compiling the same question through the ORM costs 1-2 ms of CPU per request on a small server, ten
times what PostgreSQL needs to answer it (bench/annotator_load.py); the rare found row is then read
through the ORM as usual."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection


def any_row(table: str, where: str, params: Sequence) -> bool:
    """Whether `table` has a row matching `where` (SQL with %s placeholders, filled from `params`)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {where} LIMIT 1", list(params))
        return cursor.fetchone() is not None


def first_table_with_row(tables: Sequence[str], where: str, params: Sequence) -> int | None:
    """Index of the first of `tables` that has a row matching `where` (the same columns in each), else None."""
    union = " UNION ALL ".join(f"(SELECT {i} FROM {table} WHERE {where} LIMIT 1)" for i, table in enumerate(tables))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({union}) AS found ORDER BY 1 LIMIT 1", list(params) * len(tables))
        row = cursor.fetchone()
    return None if row is None else row[0]
