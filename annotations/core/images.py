"""Image files: which ones a folder holds, safe validation, storage."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# Largest frame accepted (pixels). Pillow raises DecompressionBombError above twice its own limit;
# we refuse anything above this one, which is far beyond any video frame (8K is 33 Mpx).
MAX_IMAGE_PIXELS = 50_000_000


class BadImage(ValueError):
    pass


def list_image_files(folder: str | os.PathLike) -> dict[str, str]:
    """{file name: absolute path} of the image files directly inside `folder` (one scandir)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    out = {}
    base = os.path.abspath(folder)
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            # Extension first: is_file() may stat, which costs seconds on 100k symlinked frames.
            # (The same test as os.path.splitext, which a leading dot does not start: ".jpg" has none.)
            dot = name.rfind(".")
            if dot > 0 and name[dot:].lower() in IMAGE_EXTENSIONS and name[:dot].strip(".") and (
                    entry.is_symlink() or entry.is_file(follow_symlinks=False)):
                out[name] = os.path.join(base, name)
    return out


def check_image(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of a real, sane image; BadImage otherwise. Reads the header, then verifies."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise BadImage(f"{width}x{height} image exceeds {MAX_IMAGE_PIXELS:,} pixels")
            img.verify()
    except BadImage:
        raise
    except Image.DecompressionBombError as exc:
        raise BadImage(f"decompression bomb: {exc}") from exc
    except Exception as exc:  # Pillow raises many types for broken files
        raise BadImage(f"not a readable image ({type(exc).__name__}: {exc})") from exc
    return width, height
