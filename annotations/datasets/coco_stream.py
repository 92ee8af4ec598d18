"""COCO JSON streamed from the database into a file, in bounded memory.

Rows come from server-side cursors (inside one transaction, so PostgreSQL sends them as they are
read rather than materialising a WITH HOLD cursor) and go out as JSON text chunks of CHUNK records.
Keypoints, states and boxes arrive as their stored JSON text; only annotations with unconfirmed
points are decoded, masked and re-encoded (with orjson). The document is the one
`formats.coco.to_coco_dict` builds from `exporting.build_dataset` (same keys, same values).
"""

from __future__ import annotations

import itertools
import queue
import threading
import uuid
from collections.abc import Iterable
from typing import BinaryIO

import orjson
from django.db import connection, transaction
from django.db.models import BigIntegerField, Func, IntegerField, Min, TextField, Value
from django.db.models.functions import Cast

from annotations.datasets.formats.coco import coco_category
from annotations.models import Annotation

CHUNK = 5000
VERIFIED = "verified"
FLAGS = frozenset(("0", "1", "2"))  # visibility flags as PostgreSQL writes the integers


def _dumps(value) -> str:
    return orjson.dumps(value).decode()


class _StateCache:
    """Per distinct keypoint-state list (there are few): the `verified` flags' JSON and the indices
    of the flat keypoint list that an export without unconfirmed points writes as 0."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[str, list[int]]] = {}

    def get(self, states_text: str) -> tuple[str, list[int]]:
        hit = self.known.get(states_text)
        if hit is None:
            states = orjson.loads(states_text)
            zero = [3 * k + j for k, s in enumerate(states) if s != VERIFIED for j in range(3)]
            hit = self.known[states_text] = (_dumps([s == VERIFIED for s in states]), zero)
        return hit


def _states_key():
    """A 64-bit hash of the stored state list: each row sends 8 bytes instead of ~300 of JSON text."""
    return Func("keypoint_states", Value(0), function="jsonb_hash_extended", output_field=BigIntegerField())


def state_texts(annotations) -> dict | None:
    """{states key: JSON text} of the distinct state lists (few), or None when two lists share a key
    (checked: every row's list must equal the one its key names)."""
    groups = (annotations.annotate(states_key=_states_key()).order_by().values("states_key")
              .annotate(first=Min("id")))
    firsts = {group["first"]: group["states_key"] for group in groups}
    texts = dict(Annotation.objects.filter(id__in=firsts)
                 .annotate(states_text=Cast("keypoint_states", TextField())).values_list("id", "states_text"))
    matching = annotations.filter(keypoint_states__in=[orjson.loads(t) for t in texts.values()]).count()
    if matching != annotations.count():
        return None
    return {firsts[pk]: text for pk, text in texts.items()}


def _annotation_rows(annotations, by_key: bool):
    states = _states_key() if by_key else Cast("keypoint_states", TextField())
    return (annotations.order_by("id")
            .annotate(kp_text=Cast("keypoints", TextField()), states=states, bbox_text=Cast("bbox", TextField()),
                      kp_len=Func("keypoints", function="jsonb_array_length", output_field=IntegerField()))
            .values_list("id", "frame_id", "kp_text", "states", "bbox_text", "area", "form_label__name",
                         "source", "num_keypoints", "kp_len"))


def _server_rows(queryset):
    """The rows of a values_list queryset from a server-side cursor, CHUNK at a time, the next chunk
    fetched by a thread while this one is written (PostgreSQL formats rows while Python writes them).
    Call inside a transaction. Plain column values: no Django converters run."""
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

    with connection.connection.cursor(name=f"coco_export_{uuid.uuid4().hex}") as cursor:
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
                yield from item
        finally:
            stop.set()
            thread.join()


def _padded(kp_text: str, states_text: str, K: int) -> tuple[list, list]:
    """An annotation made before the skeleton gained keypoints, padded with unlabelled, unverified points."""
    kp, states = orjson.loads(kp_text), orjson.loads(states_text)
    missing = K - len(kp) // 3
    if missing > 0:
        kp, states = kp + [0, 0, 0] * missing, states + ["unverified"] * missing
    return kp, states


def _masked(kp_text: str, zero: list[int]) -> tuple[str, int]:
    """(JSON text of the keypoints with the values at `zero` written as 0, count of labelled points).

    PostgreSQL writes a jsonb array of numbers as "[x, y, v, ...]": split on the separator, the numbers
    stay as stored, with no decoding and re-encoding of each one. Anything else is decoded."""
    parts = kp_text[1:-1].split(", ")
    if len(parts) > zero[-1]:
        for i in zero:
            parts[i] = "0"
        flags = parts[2::3]
        if FLAGS.issuperset(flags):
            return "[" + ",".join(parts) + "]", len(flags) - flags.count("0")
    kp = orjson.loads(kp_text)
    for i in zero:
        kp[i] = 0
    return _dumps(kp), sum(1 for v in kp[2::3] if v > 0)


def _annotation_texts(rows, K: int, verified_only: bool, texts: dict):
    """Yield each annotation's JSON text. texts: {states key: state list's JSON text} when rows carry keys."""
    cache = _StateCache()
    names: dict[str | None, str] = {}
    for ann_id, frame_id, kp_text, states, bbox_text, area, label, source, labelled, kp_len in rows:
        states_text = texts.get(states, states)
        if kp_len != 3 * K:
            kp, states = _padded(kp_text, states_text, K)
            states_text = _dumps(states)
            if verified_only:
                kp = [0 if states[i // 3] != VERIFIED else v for i, v in enumerate(kp)]
            kp_text, labelled = _dumps(kp), sum(1 for v in kp[2::3] if v > 0)
        verified, zero = cache.get(states_text)
        if verified_only and zero and kp_len == 3 * K:
            kp_text, labelled = _masked(kp_text, zero)
        for name in (label, source):
            if name not in names:
                names[name] = _dumps(name)
        yield (f'{{"id":{ann_id},"image_id":{frame_id},"category_id":1,"iscrowd":0,"keypoints":{kp_text},'
               f'"num_keypoints":{labelled},"bbox":{bbox_text},"area":{float(area)!r},"segmentation":[],'
               f'"attributes":{{"form_label":{names[label]},"keypoint_states":{states_text},'
               f'"verified":{verified},"source":{names[source]}}}}}')


def _image_texts(frames, subset_of: dict, attributes: dict[int, dict]):
    rows = frames.order_by("id").values_list("id", "file_name", "width", "height", "clip_id", "clip__key",
                                             "frame_index")
    for pk, name, width, height, clip_id, clip_key, index in _server_rows(rows):
        image = {"id": pk, "file_name": name, "width": width, "height": height, "clip_id": clip_key,
                 "frame_index": index, "split": subset_of.get(clip_id, "")}
        if pk in attributes:
            image["attributes"] = attributes[pk]
        yield _dumps(image)


def _write_array(fh: BinaryIO, texts) -> int:
    """Write `[t1,t2,...]` in chunks; returns how many elements."""
    count, chunk = 0, []
    fh.write(b"[")
    for text in texts:
        chunk.append(text)
        if len(chunk) == CHUNK:
            fh.write((b"," if count else b"") + ",".join(chunk).encode())
            count += len(chunk)
            chunk = []
    if chunk:
        fh.write((b"," if count else b"") + ",".join(chunk).encode())
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
        n_images = _write_array(fh, _image_texts(frames, subset_of, attributes or {}))
        fh.write(b',"annotations":')
        texts = state_texts(annotations)
        rows = _server_rows(_annotation_rows(annotations, by_key=texts is not None))
        n_annotations = _write_array(fh, itertools.chain(_annotation_texts(rows, K, verified_only, texts or {}),
                                                         extra))
        fh.write(b"}")
    return {"images": n_images, "annotations": n_annotations}
