"""Decoding videos with PyAV: probe, frame selection, upright RGB frames. No Django in here.

Frames come out in presentation order, numbered by their position in the video (0, 1, 2, ...),
with their time from the stream's pts * time_base. Selection by target fps uses those times, not
frame counting, so variable-frame-rate phone videos sample evenly in time. Rotation comes from
the display matrix (side data), which FFmpeg attaches to every decoded frame; frames are turned
upright here so every later step sees what a viewer sees.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import av
import av.logging
from PIL import Image

log = logging.getLogger(__name__)

# Largest picture accepted (pixels); an 8K frame is 33 Mpx.
MAX_PIXELS = 40_000_000
# A file whose frames end this much before its declared duration is cut short.
TRUNCATION_SLACK_FRAMES = 2
# Decoder error messages quoted in an error.
QUOTED_ERRORS = 3


class VideoProblem(ValueError):
    """The file is not a video we can decode completely (message says why, for people)."""


@dataclass
class VideoInfo:
    """What the container says about its first video stream (before decoding every frame).

    width/height: display size, after rotation. rotation: degrees clockwise to turn the stored
    picture upright (the phone's `rotate` tag: 90 for a portrait iPhone video).
    """

    codec: str
    container: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    fps: float | None
    duration: float | None
    frame_count: int | None
    rotation: int
    has_audio: bool


@dataclass
class Selection:
    """Which decoded frames to keep: every frame, every Nth, or about `fps` frames per second.

    mode: "all" | "every" | "fps". Stateful (a target-fps selection remembers its next sample
    time); make a fresh one per pass with `copy()`.
    """

    mode: str = "all"
    every: int = 1
    fps: Fraction | None = None
    _next: Fraction | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, mode: str | None = None, every=None, fps=None) -> Selection:
        """From user input; raises ValueError with a readable message."""
        if mode in (None, ""):
            mode = "every" if every not in (None, "") else "fps" if fps not in (None, "") else "all"
        if mode == "all":
            return cls("all")
        if mode == "every":
            try:
                n = int(every)
            except (TypeError, ValueError):
                raise ValueError(f"'every' must be a whole number of frames, got {every!r}") from None
            if not 1 <= n <= 100_000:
                raise ValueError(f"'every' must be between 1 and 100000, got {n}")
            return cls("every", every=n)
        if mode == "fps":
            try:
                rate = Fraction(str(fps)).limit_denominator(1000)
            except (TypeError, ValueError, ZeroDivisionError):
                raise ValueError(f"'fps' must be a number of frames per second, got {fps!r}") from None
            if not 0 < rate <= 1000:
                raise ValueError(f"'fps' must be above 0 and at most 1000, got {fps}")
            return cls("fps", fps=rate)
        raise ValueError(f"unknown extraction mode {mode!r}; use all, every or fps")

    def copy(self) -> Selection:
        return Selection(self.mode, self.every, self.fps)

    def _rate(self) -> Fraction:
        """The target frames per second of an "fps" selection (parse always sets it)."""
        if self.fps is None:
            raise TypeError("an 'fps' selection has no frame rate")
        return self.fps

    def describe(self) -> dict:
        if self.mode == "every":
            return {"mode": "every", "every": self.every}
        if self.mode == "fps":
            return {"mode": "fps", "fps": float(self._rate())}
        return {"mode": "all"}

    def picks(self, index: int, time: Fraction) -> bool:
        """Keep frame `index` shown at `time` (seconds, exact)? Call once per frame, in order.

        Target fps keeps the first frame at or after each sample time t0 + k / fps; a frame
        that covers several sample times (a slow stretch of a VFR video) is kept once.
        """
        if self.mode == "every":
            return index % self.every == 0
        if self.mode == "fps":
            if self._next is None:
                self._next = time
            if time < self._next:
                return False
            step = 1 / self._rate()
            while self._next <= time:
                self._next += step
            return True
        return True


class DecodedFrame:
    """index: position in the video (0-based, presentation order); time: seconds; image: upright RGB.

    The picture is converted (YUV to RGB, turned upright) on first use of `image`, so the
    conversion runs on whichever thread asks for it: the JPEG writer's, in parallel with decoding
    (FFmpeg's scaler releases the GIL).
    """

    __slots__ = ("index", "time", "rotation", "_frame", "_image")

    def __init__(self, index: int, time: float, frame, rotation: int = 0):
        self.index, self.time, self.rotation = index, time, rotation
        self._frame = frame
        self._image: Image.Image | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) as shown, without converting the picture."""
        if self._image is not None:
            return self._image.size
        w, h = self._frame.width, self._frame.height
        return (h, w) if self.rotation in (90, 270) else (w, h)

    @property
    def image(self) -> Image.Image:
        if self._image is None:
            self._image = upright(self._frame.to_image(), self.rotation)
            self._frame = None  # give the decoder's buffer back
        return self._image


@dataclass
class DecodeStats:
    """Filled in while decoding: how many frames the video has, and whether its frame rate varies."""

    decoded: int = 0
    kept: int = 0
    offset: float = 0.0  # the stream's start time (frame times are counted from it)
    first_time: float | None = None
    last_time: float | None = None
    min_step: float | None = None
    max_step: float | None = None
    steps: list = field(default_factory=list, repr=False)

    def add(self, time: float) -> None:
        if self.last_time is not None:
            step = time - self.last_time
            if step > 0:
                self.steps.append(step)
        if self.first_time is None:
            self.first_time = time
        self.last_time = time
        self.decoded += 1

    @property
    def median_step(self) -> float | None:
        if not self.steps:
            return None
        s = sorted(self.steps)
        return s[len(s) // 2]

    @property
    def variable_frame_rate(self) -> bool:
        """True when frame intervals differ by more than 10 % of the typical one.

        Rounding of pts to the time base (30 fps in 1/10240 s) moves steps by well under 1 %.
        """
        med = self.median_step
        if not med:
            return False
        return (max(self.steps) - min(self.steps)) > 0.1 * med

    @property
    def mean_fps(self) -> float | None:
        first = self.first_time or 0.0  # add() sets first_time together with last_time
        if self.decoded < 2 or not self.last_time or self.last_time <= first:
            return None
        return (self.decoded - 1) / (self.last_time - first)

    @property
    def end_time(self) -> float | None:
        """When the last frame stops being shown (its time plus one typical interval)."""
        if self.last_time is None:
            return None
        return self.last_time + (self.median_step or 0.0)


def _open(path: str, label: str):
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoProblem(f"{label}: not a readable video ({_reason(exc)}); the file may be truncated, "
                           "damaged or not a video at all") from exc
    if not container.streams.video:
        container.close()
        raise VideoProblem(f"{label}: the file has no video stream")
    still = still_image(container)
    if still:
        container.close()
        raise VideoProblem(f"{label}: this is a still image ({still}), not a video; import images as frames instead")
    return container


# Demuxers of single pictures: FFmpeg reads a JPEG or PNG named .mp4 through these ("jpeg_pipe",
# "png_pipe", ... or the image2 family), as a one-frame "video".
STILL_IMAGE_FORMATS = frozenset({"image2", "image2pipe"})
IMAGE_CODECS = frozenset({"mjpeg", "png", "apng", "bmp", "gif", "webp", "tiff", "jpeg2000", "jpegls", "ljpeg", "qoi",
                          "pgm", "ppm", "pbm", "pam", "sgi", "targa", "dpx", "exr", "pcx", "xbm", "xwd", "sunrast"})


def still_image(container) -> str | None:
    """What gives away a still picture posing as a video (its container format, or a one-frame stream in an
    image codec), or None for a video."""
    names = set((container.format.name or "").split(","))
    if names & STILL_IMAGE_FORMATS or any(n.endswith("_pipe") for n in names):
        return f"format {container.format.name}"
    stream = container.streams.video[0]
    codec = stream.codec_context.name
    if codec in IMAGE_CODECS and stream.frames == 1:
        return f"one {codec} frame"
    return None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip() if text else type(exc).__name__


def _stream_duration(stream, container) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = (stream.metadata or {}).get("DURATION")  # Matroska / WebM keep it as a tag per stream
    if tag:
        try:
            h, m, s = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(s)
        except ValueError:
            pass
    # The container's duration covers audio too; only trust it for a video-only file.
    if container.duration and not container.streams.audio:
        return container.duration / av.time_base
    return None


def rotation_of(frame) -> int:
    """Clockwise degrees (0, 90, 180, 270) that turn this decoded frame upright.

    PyAV's `frame.rotation` is the display matrix's counter-clockwise angle; a portrait phone
    video stores -90 there (shown turned 90 degrees clockwise).
    """
    try:
        ccw = frame.rotation
    except Exception:  # no display matrix side data
        return 0
    return int(round(-(ccw or 0) / 90.0)) * 90 % 360


_TRANSPOSE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


def upright(image: Image.Image, rotation: int) -> Image.Image:
    """Turn a picture `rotation` degrees clockwise (PIL's ROTATE_n turn counter-clockwise)."""
    return image.transpose(_TRANSPOSE[rotation]) if rotation in _TRANSPOSE else image


def probe(path: str, label: str | None = None) -> VideoInfo:
    """Read the container header and the first frame; VideoProblem if it is not a decodable video."""
    label = label or str(path)
    with _open(path, label) as container:
        stream = container.streams.video[0]
        cc = stream.codec_context
        coded_w, coded_h = cc.width, cc.height
        if not coded_w or not coded_h:
            raise VideoProblem(f"{label}: the video stream has no picture size")
        if coded_w * coded_h > MAX_PIXELS:
            raise VideoProblem(f"{label}: {coded_w}x{coded_h} frames exceed {MAX_PIXELS:,} pixels")
        rate = stream.average_rate or stream.guessed_rate
        try:
            first = next(container.decode(stream))
        except StopIteration:
            raise VideoProblem(f"{label}: the video stream holds no frames") from None
        except av.FFmpegError as exc:
            raise VideoProblem(f"{label}: the first frame cannot be decoded ({_reason(exc)})") from exc
        rotation = rotation_of(first)
        width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
        return VideoInfo(
            codec=cc.name, container=container.format.name, width=width, height=height,
            coded_width=coded_w, coded_height=coded_h, fps=float(rate) if rate else None,
            duration=_stream_duration(stream, container), frame_count=stream.frames or None,
            rotation=rotation, has_audio=bool(container.streams.audio),
        )


def decode(path: str, selection: Selection, stats: DecodeStats, label: str | None = None,
           progress=None) -> Iterator[DecodedFrame]:
    """Yield the selected frames of the first video stream, upright, in presentation order.

    stats: filled in as frames are decoded (all of them, kept or not). progress(fraction) is
    called now and then. Raises VideoProblem when the decoder reports damage (errors while
    decoding, or frames ending well before the duration the file declares).
    """
    label = label or str(path)
    selection = selection.copy()
    previous_level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with _open(path, label) as container, av.logging.Capture(local=False) as errors:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: several times faster on long GOPs
            declared = _stream_duration(stream, container)
            declared_frames = stream.frames or None
            base = stream.time_base
            # Times are seconds into the video: a stream may start at a non-zero pts (cut files, MPEG-TS).
            start = Fraction(stream.start_time or 0) * Fraction(base) if base else Fraction(0)
            stats.offset = float(start)
            index, last_pts, seen_errors = 0, None, 0
            try:
                for frame in container.decode(stream):
                    if len(errors) > seen_errors:
                        _raise_decoder_errors(label, errors, stats)
                    pts = frame.pts if frame.pts is not None else frame.dts
                    if pts is None:  # a stream without timestamps: fall back to the nominal rate
                        pts_time = Fraction(index) / Fraction(stream.average_rate or 25)
                    else:
                        pts_time = max(Fraction(pts) * Fraction(base) - start, Fraction(0))
                    if last_pts is not None and pts_time <= last_pts:
                        continue  # a repeated timestamp is a duplicate frame, not a new moment
                    last_pts = pts_time
                    time = float(pts_time)
                    stats.add(time)
                    if selection.picks(index, pts_time):
                        stats.kept += 1
                        yield DecodedFrame(index, time, frame, rotation_of(frame))
                    index += 1
                    if progress and index % 25 == 0 and declared:
                        progress(min(time / declared, 1.0))
            except av.FFmpegError as exc:
                raise VideoProblem(f"{label}: damaged video data after frame {index} "
                                   f"(at {float(last_pts or 0):.2f} s): {_reason(exc)}") from exc
            if len(errors) > seen_errors:
                _raise_decoder_errors(label, errors, stats)
    finally:
        av.logging.set_level(previous_level)
    if stats.decoded == 0:
        raise VideoProblem(f"{label}: the video stream holds no frames")
    _check_complete(label, stats, declared, declared_frames)


def _raise_decoder_errors(label: str, errors: list, stats: DecodeStats) -> None:
    quoted = "; ".join(f"{name}: {text.strip()}" for _level, name, text in errors[:QUOTED_ERRORS])
    at = f" near {stats.last_time:.2f} s" if stats.last_time is not None else ""
    what = "truncated" if any("prematurely" in text or "truncat" in text for _l, _n, text in errors) else "damaged"
    raise VideoProblem(f"{label}: the video is {what}: the decoder reported errors{at} ({quoted})")


def _check_complete(label: str, stats: DecodeStats, declared: float | None, declared_frames: int | None) -> None:
    """A file cut short still decodes up to the cut; compare with what its header promised."""
    if declared_frames and stats.decoded < declared_frames - max(TRUNCATION_SLACK_FRAMES, declared_frames // 100):
        raise VideoProblem(f"{label}: the video is truncated: its header lists {declared_frames} frames "
                           f"but only {stats.decoded} could be decoded")
    step = stats.median_step or 0.0
    # Containers disagree on whether a duration counts from zero or from the first frame (Matroska
    # tags the end time, MP4 the track length): judge by the later reading, never cry wolf.
    end = (stats.end_time or 0.0) + stats.offset
    if declared and step and end < declared - max(TRUNCATION_SLACK_FRAMES * step, 0.02 * declared):
        raise VideoProblem(f"{label}: the video is truncated: it should last {declared:.2f} s but its frames "
                           f"end at {end:.2f} s")
