"""COCO JSON streamed from the database into a file, in bounded memory.

Rows come from server-side cursors (inside one transaction, so PostgreSQL sends them as they are
read rather than materialising a WITH HOLD cursor) in binary, CHUNK records at a time, the next chunk
fetched on a thread. PostgreSQL writes every text that needs no masking: each image's whole JSON, and
each annotation's text around its points (ids, bbox, area, form label, source). Keypoints
(double precision[]) and states (smallint[]) arrive as raw binary arrays that `coco_points` decodes,
masks and formats a chunk at a time (numpy + one orjson call); the chunk's pieces are joined once.
(PostgreSQL formatting the points itself, `array_to_string`, took longer than numpy + orjson.)

Outside a caller's transaction the export reads one REPEATABLE READ snapshot, taken as it begins; the
annotations are read on a second connection that imports that snapshot (`pg_export_snapshot`, as
pg_dump -j does) while the images are written, its chunks meanwhile held in memory up to AHEAD_BYTES,
then in a temporary file.
The document is the one `formats.coco.to_coco_dict` builds from `exporting.build_dataset` (same keys,
same values).
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import orjson
import psycopg
import psycopg.sql
from django.db import connection, transaction
from psycopg.adapt import Loader
from psycopg.pq import Format

from annotations.datasets.coco_points import States, decoded_chunk
from annotations.datasets.formats.coco import coco_category
from annotations.models import ClipSplit

CHUNK = 5000
SECOND_READER = True  # annotations read on a second connection (see write_coco)
AHEAD_BYTES = 32 << 20  # annotation text held in memory while the images are written; more goes to a file
FLOAT8_ARRAY, INT2_ARRAY, JSONB = 1022, 1005, 3802  # PostgreSQL type oids


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


def _put(to: queue.Queue, stop: threading.Event, item) -> bool:
    """Put `item` on the bounded queue `to` unless `stop` is set first (the reader has gone)."""
    while not stop.is_set():
        try:
            to.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _server_chunks(queryset, sql: str | None = None, more: tuple = (), db=None):
    """The rows of a values_list queryset (or of `sql` over its SQL, {inner}, with its parameters) from a
    binary server-side cursor, CHUNK at a time, the next chunk fetched by a thread while this one is
    written (PostgreSQL sends rows while Python writes them). Call inside a transaction. Plain column
    values, keypoint and state arrays as raw bytes, jsonb as its text: no Django converters run. `more`:
    parameters of `sql` after the inner ones. db: the psycopg connection to read from (Django's unless
    given)."""
    inner, params = queryset.query.sql_with_params()
    params = (*params, *more)
    sql = inner if sql is None else sql.replace("{inner}", inner)
    if db is None:
        connection.ensure_connection()
        db = connection.connection
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item) -> bool:
        return _put(chunks, stop, item)

    with db.cursor(name=f"coco_export_{uuid.uuid4().hex}", binary=True) as cursor:
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


def _annotation_chunks(annotations, K: int, verified_only: bool, db=None):
    """Yield (the JSON texts (bytes) of a chunk's annotations, comma-separated, how many), chunk by chunk,
    read from the psycopg connection `db` (Django's unless given)."""
    rows = annotations.order_by("id").values_list("id", "frame_id", "keypoints", "keypoint_states", "bbox", "area",
                                                  "form_label__name", "source", "num_keypoints")
    states = States(K)
    for chunk in _server_chunks(rows, _annotation_sql(), db=db):
        heads, kps, raw_states, counts, tails, ends = zip(*chunk)
        points, labelled = decoded_chunk(kps, raw_states, counts, K, verified_only)
        # One join per chunk: head, keypoints, '],"num_keypoints":', count, tail, states, end, separator.
        parts: list = [b","] * (8 * len(chunk))
        parts[0::8], parts[1::8], parts[2::8] = heads, points, [b'],"num_keypoints":'] * len(chunk)
        parts[3::8], parts[4::8] = orjson.dumps(labelled)[1:-1].split(b","), tails
        parts[5::8], parts[6::8] = states.texts(raw_states), ends
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


def _write_items(fh: BinaryIO, chunks, count: int = 0) -> int:
    """Write (comma-separated JSON texts (bytes), how many) pairs, comma-separated, after `count` items
    already written; returns the new count."""
    for text, n in chunks:
        if n:
            if count:
                fh.write(b",")
            fh.write(text)  # not joined to the comma: no copy of the chunk
            count += n
    return count


class _Ahead:
    """(text, how many) chunks made on a thread while the caller writes what precedes them. Chunks made
    meanwhile are held as they are up to AHEAD_BYTES, then wait, comma-separated, in a temporary file
    (memory stays bounded); once the caller takes over (`write`), the rest come through a short queue."""

    def __init__(self, chunks: Iterator[tuple[bytes, int]]) -> None:
        self._lock = threading.Lock()
        self._direct = False
        self._held: list[tuple[bytes, int]] = []
        self._held_bytes = 0
        self._spool = tempfile.TemporaryFile()
        self._spooled = 0
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(chunks,), name="coco-export-ahead", daemon=True)
        self._thread.start()

    def _keep(self, text: bytes, n: int) -> None:
        """Hold a chunk made before the caller takes over (called under the lock)."""
        if not self._spooled and self._held_bytes + len(text) <= AHEAD_BYTES:
            self._held.append((text, n))
            self._held_bytes += len(text)
        else:  # once one chunk is spooled the later ones follow it there: order kept
            self._spool.write((b"," if self._spooled else b"") + text)
            self._spooled += n

    def _run(self, chunks) -> None:
        try:
            for text, n in chunks:
                if self._stop.is_set():  # the caller gave up (an error while writing what precedes)
                    return
                with self._lock:
                    if not self._direct:
                        if n:
                            self._keep(text, n)
                        continue
                if not _put(self._queue, self._stop, (text, n)):
                    return
            _put(self._queue, self._stop, None)
        except BaseException as exc:  # handed to the writer, raised there
            _put(self._queue, self._stop, exc)
        finally:
            chunks.close()  # in this thread: its cursor closes before the caller closes the connection

    def write(self, fh: BinaryIO, count: int = 0) -> int:
        """Write every chunk (held, spooled, then queued) after `count` items already written; returns
        the new count."""
        with self._lock:
            self._direct = True
        count = _write_items(fh, self._held, count)
        self._held = []
        if self._spooled:
            fh.write(b"," if count else b"")
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, fh, 1 << 20)
            count += self._spooled
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            count = _write_items(fh, [item], count)
        return count

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._spool.close()


@contextlib.contextmanager
def _snapshot_reader(snapshot: str):
    """A second connection to the database, reading the snapshot `snapshot` (exported by the export's
    transaction, as pg_dump -j does): what it reads is what that transaction reads."""
    with psycopg.connect(**connection.get_connection_params()) as db:
        db.isolation_level, db.read_only = psycopg.IsolationLevel.REPEATABLE_READ, True
        db.execute(psycopg.sql.SQL("SET TRANSACTION SNAPSHOT {}").format(snapshot))
        db.execute("SET LOCAL jit = off")
        yield db


def write_coco(fh: BinaryIO, *, skeleton, form_labels: list[str], info: dict, frames, annotations,
               split_version: int | None, verified_only: bool, attributes: dict[int, dict] | None = None,
               extra: Iterable[str] = ()) -> dict:
    """Write one subset's COCO document to the binary file `fh`; returns {"images": n, "annotations": n}.

    frames, annotations: querysets of the subset's annotated frames and its annotations.
    split_version: the id of the split version whose subsets the images name (None: no split, "").
    verified_only: points whose state is not "verified" are written as unlabelled (0, 0, 0).
    attributes: {frame id: image attributes} (gold and consensus frames).
    extra: more annotations, as JSON texts, written after the subset's own (consensus votes).

    Outside a caller's transaction the document is read from one snapshot: the annotations on a second
    connection that imports it, while the images are written (PostgreSQL then works on two cores).
    Inside one (its uncommitted rows are invisible to other connections) everything is read on this one.
    """
    K = skeleton.num_keypoints
    head = orjson.dumps({"info": info, "licenses": [], "categories": [coco_category(skeleton)],
                         "form_labels": form_labels})
    own_transaction = not connection.in_atomic_block
    second_reader = own_transaction and SECOND_READER
    with transaction.atomic(), contextlib.ExitStack() as stack:  # server-side cursors without WITH HOLD
        with connection.cursor() as cursor:
            if own_transaction:  # first in the transaction: one snapshot for all its queries
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("SET LOCAL jit = off")  # JIT-compiling the text-building query costs seconds, saves none
            cursor.execute("SET LOCAL work_mem = '64MB'")  # the frames' sort after the split lookup, in memory
            if own_transaction:  # takes the snapshot now: the document is the database as the export began
                cursor.execute("SELECT pg_export_snapshot()" if second_reader else "SELECT 1")
                snapshot = cursor.fetchone()[0]
        ahead = None
        if second_reader:
            try:
                reader = stack.enter_context(_snapshot_reader(snapshot))
            except psycopg.OperationalError:  # no second connection to be had (server's limit): this one reads
                reader = None
            if reader is not None:
                ahead = _Ahead(_annotation_chunks(annotations, K, verified_only, reader))
                stack.callback(ahead.close)
        fh.write(head[:-1] + b',"images":[')
        n_images = _write_items(fh, _image_chunks(frames, split_version, attributes or {}))
        fh.write(b'],"annotations":[')
        n_annotations = (ahead.write(fh) if ahead is not None
                         else _write_items(fh, _annotation_chunks(annotations, K, verified_only)))
        n_annotations = _write_items(fh, ((text.encode(), 1) for text in extra), n_annotations)
        fh.write(b"]}")
    return {"images": n_images, "annotations": n_annotations}
