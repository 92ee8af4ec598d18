"""The COCO export outside a caller's transaction: one snapshot, read on two connections at once."""

import re
import threading
import time

import psycopg
import pytest
from django.db import connection

from annotations.datasets import coco_stream, exporting
from annotations.models import Annotation


def without_date(text: bytes) -> bytes:
    return re.sub(rb'"date_created":"[^"]*"', b"", text, count=1)


def export_bytes(project, tmp_path, name, **kwargs) -> bytes:
    out = tmp_path / name
    exporting.export(project, "coco", ["all"], out_path=out, **kwargs)
    return without_date(out.read_bytes())


@pytest.fixture
def readers(monkeypatch):
    """Counts the second connections the export opens."""
    opened = []
    real = coco_stream._snapshot_reader

    def counted(snapshot):
        opened.append(snapshot)
        return real(snapshot)

    monkeypatch.setattr(coco_stream, "_snapshot_reader", counted)
    return opened


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("include_unconfirmed", [False, True])
def test_two_connections_write_the_same_bytes_as_one(imported, tmp_path, monkeypatch, readers, include_unconfirmed):
    monkeypatch.setattr(coco_stream, "CHUNK", 50)  # several chunks: held, in the file, queued
    monkeypatch.setattr(coco_stream, "AHEAD_BYTES", 50_000)
    two = export_bytes(imported, tmp_path, "two.json", include_unconfirmed=include_unconfirmed)
    assert len(readers) == 1
    monkeypatch.setattr(coco_stream, "SECOND_READER", False)
    one = export_bytes(imported, tmp_path, "one.json", include_unconfirmed=include_unconfirmed)
    assert len(readers) == 1 and one == two and b'"annotations":[{' in two


@pytest.mark.django_db(transaction=True)
def test_without_a_second_connection_the_export_reads_on_one(imported, tmp_path, monkeypatch):
    two = export_bytes(imported, tmp_path, "two.json")

    def refused(**params):
        raise psycopg.OperationalError("sorry, too many clients already")

    monkeypatch.setattr(coco_stream.psycopg, "connect", refused)
    assert export_bytes(imported, tmp_path, "one.json") == two


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("second_reader", [True, False])
def test_rows_written_after_the_snapshot_do_not_appear(imported, tmp_path, monkeypatch, second_reader):
    """Another connection commits a new annotation and changes one after the export began, before any
    annotation is read (as the second connection opens, or as the images are read): the document shows
    neither."""
    monkeypatch.setattr(coco_stream, "SECOND_READER", second_reader)
    first = Annotation.objects.filter(project=imported).order_by("id").first()
    done = []

    def write() -> None:  # this thread's own connection, committed at once
        try:
            Annotation.objects.filter(pk=first.pk).update(area=4242.5)
            added = Annotation.objects.get(pk=first.pk)
            added.pk, added.instance = None, 9
            added.save()
        finally:
            connection.close()

    def writes_first(real):
        def wrapped(*args):
            if not done:
                done.append(threading.Thread(target=write))
                done[0].start()
                done[0].join()
            return real(*args)
        return wrapped

    monkeypatch.setattr(coco_stream, "_snapshot_reader", writes_first(coco_stream._snapshot_reader))
    monkeypatch.setattr(coco_stream, "_image_chunks", writes_first(coco_stream._image_chunks))
    before = Annotation.objects.filter(project=imported).count()
    text = export_bytes(imported, tmp_path, "all.json")
    assert done and Annotation.objects.filter(project=imported).count() == before + 1  # the writes happened
    assert b"4242.5" not in text
    assert text.count(b'"category_id":1,"iscrowd":0') == before


@pytest.mark.parametrize("ahead_bytes", [0, 2, 1 << 20])  # all in the file, held then in the file, all held
def test_chunks_made_before_and_after_the_writer_takes_over_come_in_order(monkeypatch, ahead_bytes):
    monkeypatch.setattr(coco_stream, "AHEAD_BYTES", ahead_bytes)
    made = [(b"a", 1), (b"", 0), (b"b,c", 2), (b"d", 1), (b"e", 1)]
    halfway = threading.Event()

    def chunks():
        yield from made[:3]
        halfway.set()
        yield from made[3:]

    ahead = coco_stream._Ahead(chunks())
    halfway.wait()
    out = _Sink()
    try:
        assert ahead.write(out, 1) == 6
    finally:
        ahead.close()
    assert out.data == b",a,b,c,d,e"


def test_an_error_while_reading_ahead_reaches_the_writer():
    def chunks():
        yield b"a", 1
        raise RuntimeError("connection lost")

    ahead = coco_stream._Ahead(chunks())
    try:
        with pytest.raises(RuntimeError, match="connection lost"):
            ahead.write(_Sink())
    finally:
        ahead.close()


def test_closing_before_the_writer_takes_over_stops_reading_ahead():
    """An error while the images are written closes the reader: it stops, it does not read on."""
    made = []

    def chunks():
        for n in range(2000):
            made.append(n)
            time.sleep(0.001)
            yield b"x", 1

    ahead = coco_stream._Ahead(chunks())
    time.sleep(0.05)
    ahead.close()
    assert len(made) < 1000


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data
