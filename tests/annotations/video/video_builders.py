"""Real short videos made with PyAV from the barbell-row frames, for the video tests.

Frames of one clip are resized to one size (videos have one picture size); the default
240x352 keeps the lifters' portrait shape and even sides for 4:2:0 chroma.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.conftest import CORRECT_IMAGES

SIZE = (240, 352)  # width, height


def barbell_frames(n: int, size=SIZE, clip: str = "52723_8") -> list[Image.Image]:
    """n RGB frames of the demo dataset (the clip's frames in order, then other clips' to make up n)."""
    def number(p: Path) -> int:
        return int(p.stem.rsplit("_", 1)[1])

    files = sorted(CORRECT_IMAGES.glob(f"{clip}_*.jpg"), key=number)
    files += sorted(p for p in CORRECT_IMAGES.glob("*.jpg") if not p.name.startswith(clip + "_"))
    return [Image.open(p).convert("RGB").resize(size, Image.Resampling.BILINEAR) for p in files[:n]]


def write_video(path, frames: list[Image.Image], *, fmt: str = "mp4", codec: str = "libx264", fps: int = 10,
                rotation: float | None = None, pts: list[int] | None = None) -> Path:
    """Encode `frames` into `path`.

    rotation: display rotation in PyAV's sense (counter-clockwise degrees, as `frame.rotation`
    reads back); frames are stored as given. pts: presentation times in units of 1/fps (default
    0, 1, 2, ...), for variable-frame-rate files.
    """
    path = Path(path)
    width, height = frames[0].size
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "18"}
        elif codec == "libvpx-vp9":
            stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        else:
            stream.options = {"qscale": "2"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.asarray(image), format="rgb24")
            frame.pts = pts[i] if pts else i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute pixel difference of two same-size images (0..255)."""
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())


# -- fixtures shared by the video tests (import them into a test module by name) ------------------

import pytest  # noqa: E402


@pytest.fixture
def eager_jobs():
    """Jobs started over REST run inline (on commit) instead of going to a worker."""
    from webapp.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def media_files(root) -> list[str]:
    """Every file under the media root, relative, sorted (empty folders do not count)."""
    root = Path(root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def row_counts() -> dict:
    from annotations.models import Annotation, Clip, Frame, Video

    return {m.__name__: m.objects.count() for m in (Video, Clip, Frame, Annotation)}


def upload_video(client, slug: str, path, capture, **fields):
    """POST a video file to the REST upload (multipart) and run the job on commit; returns the response."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    path = Path(path)
    with capture(execute=True):
        return client.post(f"/api/projects/{slug}/videos/",
                           {"file": SimpleUploadedFile(path.name, path.read_bytes()), **fields}, format="multipart")
