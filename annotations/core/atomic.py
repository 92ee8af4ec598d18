"""Writing output files safely: into a temporary file beside the target, renamed into place. No Django here:
the dataset formats use it on plain records."""

from __future__ import annotations

import os
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(out_path: str | os.PathLike):
    """Yields a temporary path in the target's folder; on success it is renamed to `out_path`,
    on any error it is removed. Readers never see a half-written file."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".tmp-", suffix=out_path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_zip(out_path: str | os.PathLike):
    """Yields an open ZipFile that lands at `out_path` only when the block completes."""
    with atomic_path(out_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        yield zf
