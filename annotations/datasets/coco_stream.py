"""COCO JSON streamed from the database into a file, in bounded memory.

Rows come from server-side cursors (inside one transaction, so PostgreSQL sends them as they are
read rather than materialising a WITH HOLD cursor) in binary, CHUNK records at a time. Keypoints
(double precision[]) and states (smallint[]) arrive as their raw binary arrays: a chunk is decoded by
numpy in one go, masked there, and its keypoint lists are written by one orjson call, so no number is
formatted by PostgreSQL or touched one at a time in Python. The document is the one
`formats.coco.to_coco_dict` builds from `exporting.build_dataset` (same keys, same values).
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


def json_rows(values: np.ndarray) -> list[bytes]:
    """(N, D) numbers -> N JSON list bodies (no brackets), exactly as stored; whole numbers without ".0"
    (integers). The last value of every row must be whole (a visibility flag).

    One orjson call formats the chunk; shortest float repr never ends in a zero other than ".0", so
    one plain replace makes the whole numbers integers, and the rows split where one flag ends and the
    next row begins.
    """
    if len(values) == 0:
        return []
    flat = np.ascontiguousarray(values.reshape(len(values), -1), dtype=np.float64)
    flat += 0.0  # turns -0.0 into 0.0 (in place: no copy of the chunk)
    text = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY).replace(b".0,", b",")
    rows = text[2:-4].split(b".0],[") if text.endswith(b".0]]") else []
    if len(rows) != len(values):  # a last value that is not whole: split on the brackets instead
        rows = text.replace(b".0]", b"]")[2:-2].split(b"],[")
    return rows


def _annotation_rows(annotations):
    return annotations.order_by("id").values_list("id", "frame_id", "keypoints", "keypoint_states", "bbox", "area",
                                                  "form_label__name", "source", "num_keypoints")


def _server_chunks(queryset):
    """The rows of a values_list queryset from a binary server-side cursor, CHUNK at a time, the next
    chunk fetched by a thread while this one is written (PostgreSQL sends rows while Python writes
    them). Call inside a transaction. Plain column values, keypoint and state arrays as raw bytes,
    jsonb as its text: no Django converters run."""
    sql, params = queryset.query.sql_with_params()
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
    """Per distinct stored state array (there are few): its names' JSON and the `verified` flags' JSON."""

    def __init__(self) -> None:
        self.known: dict[bytes, tuple[bytes, bytes]] = {}

    def texts(self, raw: bytes, codes) -> tuple[bytes, bytes]:
        hit = self.known.get(raw)
        if hit is None:
            codes = [int(c) for c in codes]
            hit = self.known[raw] = (orjson.dumps([STATE_NAMES[c] for c in codes]),
                                     orjson.dumps([c == VERIFIED_CODE for c in codes]))
        return hit


def _decoded(chunk, K: int, verified_only: bool) -> dict[int, tuple[bytes, object, int]]:
    """{row position: (keypoint JSON list body, state codes (K,), labelled count)} for the chunk's rows whose
    arrays hold the full skeleton, decoded and masked by numpy together; the others are left out."""
    kp_head, states_head = _array_head(">f8", 3 * K), _array_head(">i2", K)
    kp_width, states_width = 20 + 12 * 3 * K, 20 + 6 * K
    regular = [n for n, r in enumerate(chunk) if len(r[2]) == kp_width and len(r[3]) == states_width
               and r[2][:20] == kp_head and r[3][:20] == states_head]
    if not regular:
        return {}
    kp = _array_block([chunk[n][2] for n in regular], ">f8", 3 * K)
    codes = _array_block([chunk[n][3] for n in regular], ">i2", K).astype(np.int16)
    labelled = np.fromiter((chunk[n][8] for n in regular), np.int64, len(regular))
    if verified_only:
        unconfirmed = codes != VERIFIED_CODE
        if unconfirmed.any():
            points = kp.reshape(len(regular), K, 3)
            points[unconfirmed] = 0.0
            labelled = np.where(unconfirmed.any(axis=1), (points[:, :, 2] > 0).sum(axis=1), labelled)
    return dict(zip(regular, zip(json_rows(kp), codes, labelled.tolist())))


def _odd_row(row, K: int, verified_only: bool) -> tuple[bytes, list[int], int]:
    """One row the chunk path could not take: decoded in Python, padded to K points, masked."""
    kp = [0 if v is None else v for v in _decode_array(row[2], ">f8")]
    codes = [0 if c is None else int(c) for c in _decode_array(row[3], ">i2")]
    labelled = row[8]
    missing = K - len(kp) // 3
    if missing > 0:
        kp, codes = kp + [0.0, 0.0, 0.0] * missing, codes + [STATE_CODES["unverified"]] * missing
        labelled = None
    if verified_only and any(c != VERIFIED_CODE for c in codes):
        kp = [0.0 if codes[i // 3] != VERIFIED_CODE else v for i, v in enumerate(kp)]
        labelled = None
    if labelled is None:
        labelled = sum(1 for v in kp[2::3] if v > 0)
    return json_rows(np.asarray([kp], dtype=np.float64))[0], codes, labelled


ANNOTATION = (b'{"id":%d,"image_id":%d,"category_id":1,"iscrowd":0,"keypoints":[%s],"num_keypoints":%d,'
              b'"bbox":%s,"area":%r,"segmentation":[],"attributes":{"form_label":%s,"keypoint_states":%s,'
              b'"verified":%s,"source":%s}}')


def _annotation_chunks(chunks, K: int, verified_only: bool):
    """Yield the JSON texts (bytes) of each chunk's annotations, a list per chunk."""
    states = _States()
    names: dict[str | None, bytes] = {}
    for chunk in chunks:
        decoded = _decoded(chunk, K, verified_only)
        out = []
        for n, (ann_id, frame_id, _, raw_states, bbox_text, area, label, source, _) in enumerate(chunk):
            hit = decoded.get(n)
            if hit is not None:
                (kp_text, codes, labelled), key = hit, raw_states
            else:  # made before the skeleton gained keypoints (or odd): decoded on its own
                kp_text, codes, labelled = _odd_row(chunk[n], K, verified_only)
                key = bytes(str(codes), "ascii")
            states_text, verified = states.texts(key, codes)
            if label not in names:
                names[label] = orjson.dumps(label)
            if source not in names:
                names[source] = orjson.dumps(source)
            out.append(ANNOTATION % (ann_id, frame_id, kp_text, labelled, bbox_text, float(area), names[label],
                                     states_text, verified, names[source]))
        yield out


IMAGE = b'{"id":%d,"file_name":%s,"width":%d,"height":%d,"clip_id":%s,"frame_index":%s,"split":%s%s}'


def _image_chunks(frames, subset_of: dict, attributes: dict[int, dict]):
    """Yield the JSON texts (bytes) of the frames, a list per chunk (the same object per image as
    to_coco_dict writes, key for key)."""
    rows = frames.order_by("id").values_list("id", "file_name", "width", "height", "clip_id", "clip__key",
                                             "frame_index")
    dumps = orjson.dumps
    splits = {clip_id: dumps(subset) for clip_id, subset in subset_of.items()}
    keys: dict[str, bytes] = {}
    for chunk in _server_chunks(rows):
        out = []
        for pk, name, width, height, clip_id, clip_key, index in chunk:
            key = keys.get(clip_key)
            if key is None:
                key = keys[clip_key] = dumps(clip_key)
            extra = b',"attributes":' + dumps(attributes[pk]) if pk in attributes else b""
            out.append(IMAGE % (pk, dumps(name), width, height, key, b"null" if index is None else b"%d" % index,
                                splits.get(clip_id, b'""'), extra))
        yield out


def _write_array(fh: BinaryIO, chunks) -> int:
    """Write `[t1,t2,...]` from lists of JSON texts (bytes); returns how many elements."""
    count = 0
    fh.write(b"[")
    for chunk in chunks:
        if chunk:
            fh.write((b"," if count else b"") + b",".join(chunk))
            count += len(chunk)
    fh.write(b"]")
    return count


def write_coco(fh: BinaryIO, *, skeleton, form_labels: list[str], info: dict, frames, annotations,
               subset_of: dict, verified_only: bool, attributes: dict[int, dict] | None = None,
               extra: Iterable[str] = ()) -> dict:
    """Write one subset's COCO document to the binary file `fh`; returns {"images": n, "annotations": n}.

    frames, annotations: querysets of the subset's annotated frames and its annotations.
    subset_of: {clip id: subset} of the split version (empty without one).
    verified_only: points whose state is not "verified" are written as unlabelled (0, 0, 0).
    attributes: {frame id: image attributes} (gold and consensus frames).
    extra: more annotations, as JSON texts, written after the subset's own (consensus votes).
    """
    K = skeleton.num_keypoints
    head = orjson.dumps({"info": info, "licenses": [], "categories": [coco_category(skeleton)],
                         "form_labels": form_labels})
    with transaction.atomic():  # server-side cursors without WITH HOLD: rows stream as they are read
        fh.write(head[:-1] + b',"images":')
        n_images = _write_array(fh, _image_chunks(frames, subset_of, attributes or {}))
        fh.write(b',"annotations":')
        chunks = _server_chunks(_annotation_rows(annotations))
        n_annotations = _write_array(fh, itertools.chain(_annotation_chunks(chunks, K, verified_only),
                                                         ([text.encode()] for text in extra)))
        fh.write(b"}")
    return {"images": n_images, "annotations": n_annotations}
