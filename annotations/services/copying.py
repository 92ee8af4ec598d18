"""Bulk writes with PostgreSQL COPY (text format), far faster than INSERTs for 100k rows."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from django.db import connection

# COPY text format escapes: backslash first, then the separators it would otherwise misread.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
BLOCK_BYTES = 1 << 20


def copy_field(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def copy_rows(table: str, columns: list[str], rows: Iterable[tuple]) -> int:
    """COPY `rows` into `table` inside the current transaction; returns the number of rows.

    Text values are escaped here; JSON columns take their JSON text as a string.
    """
    count, block, size = 0, [], 0
    with connection.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            line = "\t".join(map(copy_field, row)) + "\n"
            block.append(line)
            size += len(line)
            count += 1
            if size >= BLOCK_BYTES:
                copy.write("".join(block).encode())
                block, size = [], 0
        if block:
            copy.write("".join(block).encode())
    return count
