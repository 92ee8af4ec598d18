"""Bulk writes with PostgreSQL binary COPY, a block of rows encoded at a time.

Fixed-width columns (integers, floats, booleans, timestamps, constant or fixed-length text, arrays of
one length) are packed for the whole block by one numpy structured array; only variable-width values
(free text, nullable numbers, jsonb) are encoded per row. PostgreSQL then parses no text at all.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection

SIGNATURE = b"PGCOPY\n\xff\r\n\0" + b"\0" * 8  # header, flags, extension length
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ARRAY_OIDS = {">f8": 701, ">i2": 21}  # float8 and int2 element types
_int4 = struct.Struct("!i").pack
_int8 = struct.Struct("!q").pack


def pg_timestamp(value: datetime) -> int:
    """A timestamptz as PostgreSQL's binary form: microseconds since 2000-01-01 UTC."""
    return (value - PG_EPOCH) // timedelta(microseconds=1)


class RowBlock:
    """N rows of one COPY, built column by column; `encode()` returns their binary COPY bytes.

    Fixed-width columns come first in the COPY column list, variable-width ones after, in the order
    they were added (`columns`)."""

    def __init__(self, n: int):
        self.n = n
        self._fixed: list[tuple[str, list, dict]] = []  # (column, dtype fields, {field: values})
        self._var: list[tuple[str, list[bytes]]] = []

    @property
    def columns(self) -> list[str]:
        return [c for c, _, _ in self._fixed] + [c for c, _ in self._var]

    def number(self, column: str, dtype: str, values) -> RowBlock:
        """An integer/float/bool column without NULLs; dtype e.g. ">i8", ">i4", ">i2", ">f8", "?"."""
        size = np.dtype(dtype).itemsize
        k = len(self._fixed)
        self._fixed.append((column, [(f"l{k}", ">i4"), (f"v{k}", dtype)], {f"l{k}": size, f"v{k}": values}))
        return self

    def timestamp(self, column: str, value: datetime) -> RowBlock:
        return self.number(column, ">i8", pg_timestamp(value))

    def fixed_text(self, column: str, values, width: int) -> RowBlock:
        """Text whose every value has `width` bytes (a constant, a hex digest)."""
        k = len(self._fixed)
        fields: list = [(f"l{k}", ">i4")] + ([(f"v{k}", f"S{width}")] if width else [])
        data = {f"l{k}": width, **({f"v{k}": values} if width else {})}
        self._fixed.append((column, fields, data))
        return self

    def array(self, column: str, dtype: str, values: np.ndarray) -> RowBlock:
        """A 1-D array column of equal-length rows: values (N, M) in float8 (">f8") or int2 (">i2")."""
        m, size = values.shape[1], np.dtype(dtype).itemsize
        k = len(self._fixed)
        head = np.frombuffer(struct.pack("!iiiii", 1, 0, ARRAY_OIDS[dtype], m, 1), "V20")[0]
        cell = np.dtype([("l", ">i4"), ("v", dtype)])
        fields = [(f"l{k}", ">i4"), (f"h{k}", "V20"), (f"v{k}", cell, (m,))]
        self._fixed.append((column, fields, {f"l{k}": 20 + m * (4 + size), f"h{k}": head,
                                             f"v{k}": ("cells", size, values)}))
        return self

    def text(self, column: str, values) -> RowBlock:
        """Free text (str, or None for NULL)."""
        out = []
        for v in values:
            if v is None:
                out.append(NULL)
            else:
                data = v.encode()
                out.append(_int4(len(data)) + data)
        self._var.append((column, out))
        return self

    def jsonb(self, column: str, texts) -> RowBlock:
        """jsonb from ready JSON texts (binary jsonb is a version byte, then the text)."""
        out = []
        for t in texts:
            data = t.encode()
            out.append(_int4(len(data) + 1) + b"\x01" + data)
        self._var.append((column, out))
        return self

    def nullable_int(self, column: str, values, size: int = 8) -> RowBlock:
        pack = _int8 if size == 8 else _int4
        prefix = _int4(size)
        self._var.append((column, [NULL if v is None else prefix + pack(v) for v in values]))
        return self

    def encode(self) -> bytes:
        fields: list = [("count", ">i2")]
        for _, f, _ in self._fixed:
            fields += f
        rec = np.zeros(self.n, dtype=np.dtype(fields))
        rec["count"] = len(self._fixed) + len(self._var)
        for _, _, data in self._fixed:
            for name, value in data.items():
                if isinstance(value, tuple) and value and value[0] == "cells":
                    _, size, arr = value
                    rec[name]["l"] = size
                    rec[name]["v"] = arr
                else:
                    rec[name] = value
        fixed = rec.tobytes()
        if not self._var:
            return fixed
        width = rec.dtype.itemsize
        view = memoryview(fixed)
        rows = (view[i * width:(i + 1) * width] for i in range(self.n))
        return b"".join(b"".join(parts) for parts in zip(rows, *(v for _, v in self._var)))


def copy_blocks(table: str, blocks: Iterable[RowBlock]) -> int:
    """Binary COPY of row blocks (all with the same columns) into `table` inside the current transaction;
    a block is encoded while PostgreSQL ingests the previous one. Returns the number of rows."""
    it = iter(blocks)
    first = next(it, None)
    if first is None:
        return 0
    count = 0
    with connection.cursor() as cur, cur.copy(
            f"COPY {table} ({', '.join(first.columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(SIGNATURE)
        for block in itertools.chain([first], it):
            if block.columns != first.columns:
                raise ValueError(f"COPY blocks with different columns: {block.columns} != {first.columns}")
            copy.write(block.encode())
            count += block.n
        copy.write(TRAILER)
    return count
