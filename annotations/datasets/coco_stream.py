"""COCO JSON streamed from the database into a file, in bounded memory.

Rows come from server-side cursors (inside one transaction, so PostgreSQL sends them as they are
read rather than materialising a WITH HOLD cursor) in binary, CHUNK records at a time, the next chunk
fetched on a thread. PostgreSQL writes every text that needs no masking: each image's whole JSON, and
each annotation's text around its points (ids, bbox, area, form label, source). Keypoints
(double precision[]) and states (smallint[]) arrive as raw binary arrays: a chunk is decoded by numpy
in one go, masked there, its keypoint lists written by one orjson call, and the chunk's pieces joined
once. (PostgreSQL formatting the points itself, `array_to_string`, took longer than numpy + orjson.)
The document is the one `formats.coco.to_coco_dict` builds from `exporting.build_dataset` (same keys,
same values).
"""

from __future__ import annotations

import itertools
import queue
import struct
import threading
import uuid
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np
import orjson
from django.db import connection, transaction
from psycopg.adapt import Loader
from psycopg.pq import Format

from annotations.datasets.formats.coco import coco_category
from annotations.models import ClipSplit
from annotations.models.point_fields import STATE_CODES, STATE_NAMES, VERIFIED_CODE

CHUNK = 5000
FLOAT8_ARRAY, INT2_ARRAY, JSONB = 1022, 1005, 3802  # PostgreSQL type oids
ELEMENT_OIDS = {">f8": 701, ">i2": 21}  # float8, int2
_ARRAY_HEAD = struct.Struct("!iiiii")  # ndim, has nulls, element oid, length, lower bound


class _RawArray(Loader):
    """A binary array column as its bytes, decoded a chunk at a time by numpy."""

    format = Format.BINARY

    def load(self, data) -> bytes:
        return bytes(data)


class _JsonbText(Loader):
    """A binary jsonb column as its JSON text (the format's version byte dropped): spliced in as it is."""

    format = Format.BINARY

    def load(self, data) -> bytes:
        return bytes(data[1:])


def _decode_array(raw: bytes, dtype: str) -> list:
    """One binary 1-D array -> list (None for NULL elements); the general path for odd rows."""
    if len(raw) < 20:  # no dimensions: an empty array
        return []
    _, _, _, n, _ = _ARRAY_HEAD.unpack_from(raw)
    out: list = []
    pos, size = 20, np.dtype(dtype).itemsize
    for _ in range(n):
        (length,) = struct.unpack_from("!i", raw, pos)
        pos += 4
        if length < 0:
            out.append(None)
            continue
        out.append(np.frombuffer(raw, dtype, 1, pos)[0].item())
        pos += size
    return out


def _array_head(dtype: str, n: int) -> bytes:
    """The 20-byte header of a binary 1-D array of n non-NULL elements."""
    return _ARRAY_HEAD.pack(1, 0, ELEMENT_OIDS[dtype], n, 1)


def _array_block(raws: list[bytes], dtype: str, n: int) -> np.ndarray:
    """(len(raws), n) float64 values of binary arrays that all have `_array_head(dtype, n)`: one
    structured view of the joined bytes, one byte-swapping copy."""
    layout = np.dtype([("head", "V20"), ("cells", [("length", ">i4"), ("value", dtype)], (n,))])
    return np.frombuffer(b"".join(raws), layout)["cells"]["value"].astype(np.float64)


def _whole_as_integers(text: bytes) -> bytes:
    """orjson's number text with every ".0" that ends a number (before "," or "]") dropped: whole numbers
    written as integers. Shortest float repr never ends in a zero other than ".0", and never has ".0"
    before its exponent. One numpy mask over the bytes (bytes.replace of the many hits took twice as long)."""
    b = np.frombuffer(text, np.uint8)
    ends = np.flatnonzero((b[:-2] == ord(".")) & (b[1:-1] == ord("0")) & ((b[2:] == ord(",")) | (b[2:] == ord("]"))))
    if len(ends) == 0:
        return text
    keep = np.ones(len(b), bool)
    keep[ends] = keep[ends + 1] = False
    return b[keep].tobytes()


def json_rows(values: np.ndarray) -> list[bytes]:
    """(N, D) numbers -> N JSON list bodies (no brackets), exactly as stored; whole numbers without ".0"
    (integers), -0.0 as 0. One orjson call formats the chunk; the rows split where one ends and the next
    begins."""
    if len(values) == 0:
        return []
    flat = np.ascontiguousarray(values.reshape(len(values), -1), dtype=np.float64)
    flat += 0.0  # turns -0.0 into 0.0 (in place: no copy of the chunk)
    return _whole_as_integers(orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY))[2:-2].split(b"],[")


def _server_chunks(queryset, sql: str | None = None, more: tuple = ()):
    """The rows of a values_list queryset (or of `sql` over its SQL, {inner}, with its parameters) from a
    binary server-side cursor, CHUNK at a time, the next chunk fetched by a thread while this one is
    written (PostgreSQL sends rows while Python writes them). Call inside a transaction. Plain column
    values, keypoint and state arrays as raw bytes, jsonb as its text: no Django converters run. `more`:
    parameters of `sql` after the inner ones."""
    inner, params = queryset.query.sql_with_params()
    params = (*params, *more)
    sql = inner if sql is None else sql.replace("{inner}", inner)
    connection.ensure_connection()
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    with connection.connection.cursor(name=f"coco_export_{uuid.uuid4().hex}", binary=True) as cursor:
        for oid in (FLOAT8_ARRAY, INT2_ARRAY):
            cursor.adapters.register_loader(oid, _RawArray)
        cursor.adapters.register_loader(JSONB, _JsonbText)
        cursor.execute(sql, params)

        def pump() -> None:
            try:
                while (rows := cursor.fetchmany(CHUNK)) and put(rows):
                    pass
                put(None)
            except BaseException as exc:  # handed to the reader, raised there
                put(exc)

        thread = threading.Thread(target=pump, name="coco-export-rows", daemon=True)
        thread.start()
        try:
            while (item := chunks.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()


class _States:
    """Per distinct stored state array (there are few): `[names],"verified":[flags]` as JSON."""

    def __init__(self, K: int) -> None:
        self.K = K
        self.known: dict[bytes, bytes] = {}

    def text(self, raw: bytes) -> bytes:
        hit = self.known.get(raw)
        if hit is None:  # NULL codes read as unverified, missing points unverified
            codes = [0 if c is None else int(c) for c in _decode_array(raw, ">i2")]
            codes += [STATE_CODES["unverified"]] * (self.K - len(codes))
            hit = self.known[raw] = (orjson.dumps([STATE_NAMES[c] for c in codes]) + b',"verified":'
                                     + orjson.dumps([c == VERIFIED_CODE for c in codes]))
        return hit


def _annotation_sql() -> str:
    """The query over the annotation rows' SQL ({inner}) that streams (head, keypoints, states, labelled
    count, tail, end), ordered by id. PostgreSQL writes the texts around the keypoints and states: head
    `{"id":..,"keypoints":[`, tail `,"bbox":..,"attributes":{"form_label":..,"keypoint_states":`, end
    `,"source":..}}`; keypoints and states come as binary arrays for numpy."""
    return """
    SELECT convert_to('{"id":' || a.id || ',"image_id":' || a.frame_id
                      || ',"category_id":1,"iscrowd":0,"keypoints":[', 'UTF8'),
           array_send(a.kp), array_send(a.st), a.n,
           convert_to(',"bbox":' || a.bbox::text || ',"area":'
               || CASE WHEN a.area = trunc(a.area) AND abs(a.area) < 1e15 THEN a.area::text || '.0'
                       ELSE a.area::text END
               || ',"segmentation":[],"attributes":{"form_label":' || coalesce(to_json(a.label)::text, 'null')
               || ',"keypoint_states":', 'UTF8'),
           convert_to(',"source":' || coalesce(to_json(a.source)::text, 'null') || '}}', 'UTF8')
    FROM ({inner}) AS a(id, frame_id, kp, st, bbox, area, label, source, n)
    ORDER BY a.id"""


def _decoded(chunk, K: int, verified_only: bool) -> dict[int, tuple[bytes, int]]:
    """{row position: (keypoint JSON list body, labelled count)} for the chunk's rows whose arrays hold
    the full skeleton, decoded and masked by numpy together; the others are left out."""
    kp_head, states_head = _array_head(">f8", 3 * K), _array_head(">i2", K)
    kp_width, states_width = 20 + 12 * 3 * K, 20 + 6 * K
    regular = [n for n, r in enumerate(chunk) if len(r[1]) == kp_width and len(r[2]) == states_width
               and r[1][:20] == kp_head and r[2][:20] == states_head]
    if not regular:
        return {}
    kp = _array_block([chunk[n][1] for n in regular], ">f8", 3 * K)
    labelled = np.fromiter((chunk[n][3] for n in regular), np.int64, len(regular))
    if verified_only:
        unconfirmed = _array_block([chunk[n][2] for n in regular], ">i2", K) != VERIFIED_CODE
        if unconfirmed.any():
            points = kp.reshape(len(regular), K, 3)
            points[unconfirmed] = 0.0
            labelled = np.where(unconfirmed.any(axis=1), (points[:, :, 2] > 0).sum(axis=1), labelled)
    return dict(zip(regular, zip(json_rows(kp), labelled.tolist())))


def _odd_row(row, K: int, verified_only: bool) -> tuple[bytes, int]:
    """One row the chunk path could not take: decoded in Python, padded to K points, masked."""
    kp = [0 if v is None else v for v in _decode_array(row[1], ">f8")]
    codes = [0 if c is None else int(c) for c in _decode_array(row[2], ">i2")]
    labelled = row[3]
    missing = K - len(kp) // 3
    if missing > 0:
        kp, codes = kp + [0.0, 0.0, 0.0] * missing, codes + [STATE_CODES["unverified"]] * missing
        labelled = None
    if verified_only and any(c != VERIFIED_CODE for c in codes):
        kp = [0.0 if codes[i // 3] != VERIFIED_CODE else v for i, v in enumerate(kp)]
        labelled = None
    if labelled is None:
        labelled = sum(1 for v in kp[2::3] if v > 0)
    return json_rows(np.asarray([kp], dtype=np.float64))[0], labelled


def _annotation_chunks(annotations, K: int, verified_only: bool):
    """Yield (the JSON texts (bytes) of a chunk's annotations, comma-separated, how many), chunk by chunk."""
    rows = annotations.order_by("id").values_list("id", "frame_id", "keypoints", "keypoint_states", "bbox", "area",
                                                  "form_label__name", "source", "num_keypoints")
    states = _States(K)
    for chunk in _server_chunks(rows, _annotation_sql()):
        decoded = _decoded(chunk, K, verified_only)
        if len(decoded) < len(chunk):  # made before the skeleton gained keypoints (or odd): one by one
            decoded.update((n, _odd_row(chunk[n], K, verified_only)) for n in range(len(chunk)) if n not in decoded)
        points, labelled = zip(*(decoded[n] for n in range(len(chunk))))
        heads, _, raw_states, _, tails, ends = zip(*chunk)
        # One join per chunk: head, keypoints, '],"num_keypoints":', count, tail, states, end, separator.
        parts: list = [b","] * (8 * len(chunk))
        parts[0::8], parts[1::8], parts[2::8] = heads, points, [b'],"num_keypoints":'] * len(chunk)
        parts[3::8], parts[4::8] = orjson.dumps(labelled)[1:-1].split(b","), tails
        parts[5::8], parts[6::8] = [states.text(raw) for raw in raw_states], ends
        yield b"".join(parts[:-1]), len(chunk)


IMAGES = """
    SELECT convert_to('{"id":' || f.id || ',"file_name":' || coalesce(to_json(f.file_name)::text, 'null')
        || ',"width":' || coalesce(f.width::text, 'null') || ',"height":' || coalesce(f.height::text, 'null')
        || ',"clip_id":' || coalesce(to_json(f.clip_key)::text, 'null') || ',"frame_index":'
        || coalesce(f.frame_index::text, 'null') || ',"split":' || coalesce(to_json(s.subset)::text, '""')
        || coalesce(',"attributes":' || t.attrs, '') || '}', 'UTF8')
    FROM ({inner}) AS f(id, file_name, width, height, clip_id, clip_key, frame_index)
    LEFT JOIN {splits} AS s ON s.clip_id = f.clip_id AND s.version_id = %s
    LEFT JOIN unnest(%s::bigint[], %s::text[]) AS t(frame_id, attrs) ON t.frame_id = f.id
    ORDER BY f.id""".replace("{splits}", ClipSplit._meta.db_table)


def _image_chunks(frames, split_version: int | None, attributes: dict[int, dict]):
    """Yield (the JSON texts (bytes) of a chunk's frames, comma-separated, how many), chunk by chunk (the
    same object per image as to_coco_dict writes, key for key). PostgreSQL writes each text, the split
    looked up in its own table (subset names are plain words: to_json writes them as orjson does); the
    attribute texts (orjson's, few) come in as array parameters."""
    rows = frames.order_by("id").values_list("id", "file_name", "width", "height", "clip_id", "clip__key",
                                             "frame_index")
    extra = (list(attributes), [orjson.dumps(value).decode() for value in attributes.values()])
    for chunk in _server_chunks(rows, IMAGES, (split_version, *extra)):
        yield b",".join([text for text, in chunk]), len(chunk)


def _write_array(fh: BinaryIO, chunks) -> int:
    """Write `[t1,t2,...]` from (comma-separated JSON texts (bytes), how many) pairs; returns how many."""
    count = 0
    fh.write(b"[")
    for text, n in chunks:
        if n:
            fh.write((b"," if count else b"") + text)
            count += n
    fh.write(b"]")
    return count


def write_coco(fh: BinaryIO, *, skeleton, form_labels: list[str], info: dict, frames, annotations,
               split_version: int | None, verified_only: bool, attributes: dict[int, dict] | None = None,
               extra: Iterable[str] = ()) -> dict:
    """Write one subset's COCO document to the binary file `fh`; returns {"images": n, "annotations": n}.

    frames, annotations: querysets of the subset's annotated frames and its annotations.
    split_version: the id of the split version whose subsets the images name (None: no split, "").
    verified_only: points whose state is not "verified" are written as unlabelled (0, 0, 0).
    attributes: {frame id: image attributes} (gold and consensus frames).
    extra: more annotations, as JSON texts, written after the subset's own (consensus votes).
    """
    K = skeleton.num_keypoints
    head = orjson.dumps({"info": info, "licenses": [], "categories": [coco_category(skeleton)],
                         "form_labels": form_labels})
    with transaction.atomic():  # server-side cursors without WITH HOLD: rows stream as they are read
        with connection.cursor() as cursor:  # JIT-compiling the text-building query costs seconds, saves none
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")  # the frames' sort after the split lookup, in memory
        fh.write(head[:-1] + b',"images":')
        n_images = _write_array(fh, _image_chunks(frames, split_version, attributes or {}))
        fh.write(b',"annotations":')
        n_annotations = _write_array(fh, itertools.chain(_annotation_chunks(annotations, K, verified_only),
                                                         ((text.encode(), 1) for text in extra)))
        fh.write(b"}")
    return {"images": n_images, "annotations": n_annotations}
