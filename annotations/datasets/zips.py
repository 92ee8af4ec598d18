"""Safe extraction of uploaded zips (CVAT exports): no path escapes, no bombs."""

from __future__ import annotations

import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from annotations.core.errors import InputError

MAX_ENTRIES = 200_000
MAX_TOTAL_BYTES = 8 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed per entry; JPEGs and JSON are far below this


def safe_members(zf: zipfile.ZipFile, label: str) -> list[zipfile.ZipInfo]:
    """The zip's regular-file entries, after refusing the whole archive if any entry is hostile."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InputError(f"{label}: {len(infos)} entries exceed the limit of {MAX_ENTRIES}")
    problems: list[dict[str, str | None]] = []
    total = 0
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            problems.append({"file": label, "id": name, "reason": "path escapes the archive (absolute or '..')"})
            continue
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append({"file": label, "id": name, "reason": "symbolic link"})
            continue
        if info.flag_bits & 0x1:
            problems.append({"file": label, "id": name, "reason": "encrypted entry"})
            continue
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1024**2:
            problems.append({"file": label, "id": name, "reason": "compression ratio suggests a zip bomb"})
    if total > MAX_TOTAL_BYTES:
        problems.append({"file": label, "id": None, "reason": f"uncompressed size {total:,} bytes exceeds the limit"})
    if problems:
        raise InputError(f"{label}: refused, {len(problems)} unsafe entries", problems)
    return [i for i in infos if not i.is_dir()]


def extract_safely(zip_path: str | os.PathLike, dest: str | os.PathLike, label: str | None = None) -> list[Path]:
    """Extract every regular file of a checked zip under `dest`; returns the extracted paths."""
    label = label or os.path.basename(str(zip_path))
    dest = Path(dest).resolve()
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{label}: not a valid zip file ({exc})") from exc
    out = []
    with zf:
        for info in safe_members(zf, label):
            target = (dest / info.filename).resolve()
            if dest not in target.parents:
                raise InputError(f"{label}: entry {info.filename!r} escapes the archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    # Count the bytes really inflated: a forged header size must not let a bomb through.
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > info.file_size or written > MAX_TOTAL_BYTES:
                            raise InputError(f"{label}: entry {info.filename!r} inflates beyond its declared size",
                                             [{"file": label, "id": info.filename,
                                               "reason": "inflates beyond its declared size"}])
                        dst.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                # Bad CRC (also what a forged size ends in), broken deflate data, truncated archive,
                # an unsupported compression method or an encrypted entry: bad input, not a crash.
                raise InputError(f"{label}: entry {info.filename!r} is corrupt or unreadable ({exc})",
                                 [{"file": label, "id": info.filename, "reason": f"corrupt or unreadable ({exc})"}]
                                 ) from exc
            out.append(target)
    return out
