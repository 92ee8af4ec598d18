"""Writing files safely: into a temporary file beside the target, renamed into place.

A reader (or a crashed job) never sees half a file: the target either keeps
its old content or holds the complete new one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the folder of ``path``; rename it onto ``path`` when the block succeeds.

    The temporary file (``.<name>.<random>.tmp``) exists, empty, when the block
    starts, created with the permissions an ordinary ``open(path, "w")`` would
    give it; the block writes it (or lets a library overwrite it). On any
    error, including KeyboardInterrupt, it is removed and the target is left
    untouched. The target's folder is created when missing.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _reserve(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _reserve(target: Path) -> Path:
    """Create a new, empty, uniquely named file beside ``target`` (mode 0o666 less the umask)."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
