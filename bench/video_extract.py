"""Frame extraction speed on a generated 1080p H.264 clip: decode, upright, JPEG + thumbnail, storage.

Generates a 1920x1080 30 fps clip (barbell-row frames panning across the picture, with a little
sensor noise so the encoder has real detail to keep), then times the extraction path the job
uses (annotations.video.extraction.FrameWriter fed by video_decode.decode) into a scratch media
folder: every frame, every 5th frame, 5 fps by timestamps, and a portrait phone clip whose
display matrix turns it upright. The database part of the job (one bulk insert of the frame
rows) is left out: it is milliseconds next to the JPEG work. Prints one JSON object per line:
{"metric", "value", "unit"}.

    .venv/bin/python bench/video_extract.py
    .venv/bin/python -m webapp.dev bench bench/video_extract.py
Each figure is the best of BENCH_REPEAT passes (default 3): on a shared machine the fastest pass
is the one least disturbed by other work.
Environment: BENCH_VIDEO_SECONDS (default 4), BENCH_REPEAT, BENCH_ENCODE_THREADS (default: the job's).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATASET = Path(os.environ.get("POSEREVIEW_DATASET", ROOT.parent / "shared" / "datasets" / "barbell-row"))
SECONDS = float(os.environ.get("BENCH_VIDEO_SECONDS", 4))
REPEAT = int(os.environ.get("BENCH_REPEAT", 3))
FPS = 30
W, H = 1920, 1080


def emit(metric: str, value, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": value, "unit": unit}), flush=True)


def source_strip() -> np.ndarray:
    """A 1080-high strip of barbell-row frames side by side, wider than the picture, to pan over."""
    from PIL import Image

    files = sorted((DATASET / "images" / "correct").glob("*.jpg"))[:10]
    tiles = [np.asarray(Image.open(p).convert("RGB").resize((720, H), Image.Resampling.BILINEAR)) for p in files]
    return np.concatenate(tiles, axis=1)  # 1080 x 7200 x 3


def generate(path: Path, frames: int, rotation: float | None = None, portrait: bool = False) -> None:
    import av

    strip = source_strip()
    rng = np.random.default_rng(0)
    width, height = (H, W) if portrait else (W, H)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}  # what a phone-to-laptop transcode looks like
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            x = (i * 24) % (strip.shape[1] - W)
            picture = strip[:, x:x + W].astype(np.int16) + rng.integers(-4, 5, (H, W, 1), dtype=np.int16)
            picture = np.clip(picture, 0, 255).astype(np.uint8)
            if portrait:
                picture = np.ascontiguousarray(np.rot90(picture))  # the sensor's landscape, shown portrait
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def timed_extract(path: Path, selection, media: Path, threads: int) -> tuple[float, int, int, int]:
    """(seconds, frames decoded, frames written, bytes written): the best of REPEAT passes."""
    runs = [one_extract(path, selection, media, threads) for _ in range(REPEAT)]
    return min(runs)


def one_extract(path: Path, selection, media: Path, threads: int) -> tuple[float, int, int, int]:
    """(seconds, frames decoded, frames written, bytes written) for one pass of the job's path."""
    from annotations.video.decode import DecodeStats, decode
    from annotations.video.frame_writer import FrameWriter

    stats = DecodeStats()
    writer = FrameWriter("bench", threads=threads)
    start = time.perf_counter()
    written = 0
    for frame in decode(str(path), selection, stats):
        writer.submit(f"bench_1_{frame.index}.jpg", frame.image)
        written += 1
    writer.wait()
    writer.close()
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in media.rglob("*.jpg"))
    writer.discard()
    return seconds, stats.decoded, written, size


def main() -> None:
    os.environ.setdefault("POSEREVIEW_DEV", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    with tempfile.TemporaryDirectory(prefix="posereview-bench-video-") as tmp:
        tmp = Path(tmp)
        os.environ["MEDIA_ROOT"] = str(tmp / "media")
        import django

        django.setup()
        from annotations.video.decode import DecodeStats, Selection, decode
        from annotations.video.frame_writer import ENCODE_THREADS

        threads = int(os.environ.get("BENCH_ENCODE_THREADS", ENCODE_THREADS))
        n = int(SECONDS * FPS)
        clip = tmp / "row-1080p.mp4"
        start = time.perf_counter()
        generate(clip, n)
        emit("video_generate_1080p_seconds", round(time.perf_counter() - start, 2), "s")
        emit("video_1080p_file_size", round(clip.stat().st_size / 1e6, 2), "MB")
        emit("video_1080p_frames", n, "frames")

        # Decoding alone (YUV frames, not converted or written): the floor under every extraction.
        best = float("inf")
        for _ in range(REPEAT):
            start = time.perf_counter()
            stats = DecodeStats()
            for _ in decode(str(clip), Selection.parse("all"), stats):
                pass
            best = min(best, time.perf_counter() - start)
        emit("video_decode_1080p_fps", round(stats.decoded / best, 1), "frames/s")

        media = tmp / "media"
        for label, selection in (("all", Selection.parse("all")), ("every5", Selection.parse("every", every=5)),
                                 ("fps5", Selection.parse("fps", fps=5))):
            seconds, decoded, written, size = timed_extract(clip, selection, media, threads)
            emit(f"video_extract_1080p_{label}_output_fps", round(written / seconds, 1), "frames/s")
            if label != "all":
                emit(f"video_extract_1080p_{label}_source_fps", round(decoded / seconds, 1), "frames/s")
            emit(f"video_extract_1080p_{label}_realtime_factor", round(decoded / FPS / seconds, 2), "x")
            if label == "all":
                emit("video_extract_1080p_jpeg_and_thumbnail_size", round(size / written / 1e3, 1), "kB/frame")

        phone = tmp / "phone-1080p.mp4"
        generate(phone, n, rotation=-90, portrait=True)
        seconds, _decoded, written, _size = timed_extract(phone, Selection.parse("all"), media, threads)
        emit("video_extract_1080p_rotated_output_fps", round(written / seconds, 1), "frames/s")
        emit("video_extract_encode_threads", threads, "threads")
        emit("cpu_count", os.cpu_count(), "cores")


if __name__ == "__main__":
    main()
