"""Writing extracted frames: JPEG and thumbnail encoded on a few threads, stored, removable on failure."""

from __future__ import annotations

import io
import logging
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.move import file_move_safe
from django.core.files.storage import default_storage
from PIL import Image

log = logging.getLogger(__name__)

JPEG_QUALITY = 90
THUMBNAIL_BOX = (192, 192)
# Frames being encoded at once: JPEG encoding releases the GIL, so threads overlap it with decoding.
ENCODE_THREADS = min(4, os.cpu_count() or 1)


class FrameWriter:
    """Encodes frames (JPEG and thumbnail) on a few threads and stores them; remembers what it stored.

    submit() returns a Future of (image name, thumbnail name). At most 2 * threads frames wait in
    memory, so a 4K video does not fill RAM faster than the encoder drains it.
    """

    def __init__(self, slug: str, threads: int = ENCODE_THREADS):
        self.slug = slug
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="frame-jpeg")
        self.pending: deque[Future] = deque()
        self.limit = 2 * threads
        self.stored: list[str] = []
        self._lock = threading.Lock()

    def submit(self, file_name: str, frame) -> Future:
        """frame: a video_decode.DecodedFrame (converted to RGB on the writer's thread) or a PIL image."""
        while len(self.pending) >= self.limit:
            self.pending.popleft().result()
        future = self.pool.submit(self._write, file_name, frame)
        self.pending.append(future)
        return future

    def wait(self) -> None:
        while self.pending:
            self.pending.popleft().result()

    def _save(self, name: str, image: Image.Image) -> str:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=JPEG_QUALITY)
        stored = default_storage.save(name, ContentFile(buf.getvalue()))
        with self._lock:
            self.stored.append(stored)
        return stored

    def _write(self, file_name: str, frame) -> tuple[str, str]:
        image = frame if isinstance(frame, Image.Image) else frame.image
        main = self._save(f"frames/{self.slug}/{file_name}", image)
        return main, self._save(f"thumbnails/{self.slug}/{file_name}", thumbnail(image))

    def discard(self) -> None:
        """Remove every file written so far (after the running encodes finish)."""
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True)
        with self._lock:
            names, self.stored = self.stored, []
        for name in names:
            try:
                default_storage.delete(name)
            except OSError:
                log.warning("could not remove %s", name)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def thumbnail(image: Image.Image) -> Image.Image:
    """The picture shrunk to fit THUMBNAIL_BOX, aspect kept (what Image.thumbnail does, without a copy)."""
    scale = min(THUMBNAIL_BOX[0] / image.width, THUMBNAIL_BOX[1] / image.height, 1.0)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def keep_video_file(source: str, target: str) -> str:
    """Move the uploaded video (storage name `source`) to `target` in storage; returns the stored name.

    On disk storage this is a rename, so a 2 GB upload is not copied again.
    """
    try:
        src_path = default_storage.path(source)
        dst_name = default_storage.get_available_name(target)
        dst_path = default_storage.path(dst_name)
    except NotImplementedError:
        with default_storage.open(source, "rb") as fh:
            return default_storage.save(target, File(fh))
    os.makedirs(os.path.dirname(dst_path), exist_ok=True)
    file_move_safe(src_path, dst_path, allow_overwrite=False)
    return dst_name
