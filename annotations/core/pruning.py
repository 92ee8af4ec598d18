"""Removing media objects that nothing refers to (orphans), for `python manage.py prune_media`.

Failures leave objects behind: a store_frames run killed between its upload and its commit, an import
that copied images and then died, a thumbnail, model file or job result whose row never committed. The
walk covers only the folders that the app's FileFields write into (their `upload_to`), never uploads/
(job inputs named in Job.params) nor anything else in the storage. It lists one directory at a time and
checks the names in chunks of CHUNK (one query per model holding references), so memory stays bounded
whatever the number of frames.

An object is an orphan when no FileField of any model names it and no frame refers to it through
`source_path` (frames merged in place on disk storage point at another frame's file by its path; older
frames carried "storage:<name>"). Objects modified within the grace period are kept whatever their
references, because every writer saves its objects before the transaction that names them commits: an
import, extraction or store_frames batch in flight has uncommitted, invisible references.
Deleting re-checks each chunk's orphans right before it deletes them, under an advisory lock that
store_frames batches take shared (see `hold_reuse_lock`): store_frames may reuse an old unreferenced
object (a killed run's upload) inside its batch transaction, which no grace period covers.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.core.files.storage import Storage, default_storage
from django.db import connection, models, transaction
from django.utils import timezone

from annotations.core.storage import STORAGE_PREFIX, forget_copy, storage_path
from annotations.models import Frame

CHUNK = 1000  # names per reference query (and per re-check before deleting)
NEVER = ("uploads/",)  # job inputs: referenced from Job.params, removed by their jobs
DEFAULT_HOURS = 24.0
REUSE_LOCK = (1381258802, 0)  # two-int advisory lock key (retrain uses 1381258801 as its namespace)

_MARK = "\x00"


class _Probe:
    """Stands for any model instance in a callable upload_to: every attribute is a probe that prints as
    _MARK, so the path's fixed start shows up to the first mark."""

    def __getattr__(self, name: str) -> _Probe:
        return _Probe()

    def __str__(self) -> str:
        return _MARK

    def __format__(self, spec: str) -> str:
        return _MARK


def upload_prefix(upload_to) -> str:
    """The fixed folder at the start of a FileField's upload_to ("" when it has none)."""
    if callable(upload_to):
        try:
            path = str(upload_to(_Probe(), _MARK))
        except Exception:  # noqa: BLE001 - a callable the probe cannot stand in for: no folder known
            return ""
    else:
        path = str(upload_to).split("%", 1)[0]  # strftime placeholders vary with the date
    fixed = path.split(_MARK, 1)[0]
    return fixed[:fixed.rfind("/") + 1] if "/" in fixed else ""


def owned_prefixes() -> list[str]:
    """The folders the annotations app's FileFields write into, outermost only, never uploads/."""
    found = set()
    for model in apps.get_app_config("annotations").get_models():
        for f in model._meta.get_fields():
            if isinstance(f, models.FileField):
                prefix = upload_prefix(f.upload_to)
                if prefix and not prefix.startswith(NEVER) and not any(n.startswith(prefix) for n in NEVER):
                    found.add(prefix)
    return sorted(p for p in found if not any(p != q and p.startswith(q) for q in found))


def narrow(prefixes: Iterable[str]) -> list[str]:
    """The asked prefixes (folders), each inside an owned one; ValueError naming the owned ones otherwise."""
    owned = owned_prefixes()
    out = []
    for p in prefixes:
        p = p.strip().lstrip("/")
        p = p if p.endswith("/") else p + "/"
        if ".." in p.split("/") or not any(p.startswith(o) for o in owned):
            raise ValueError(f"prefix {p!r} is not inside a folder that FileFields own: {', '.join(owned)}")
        out.append(p)
    return sorted(p for p in set(out) if not any(p != q and p.startswith(q) for q in out))


def _reference_columns() -> dict[type[models.Model], list[str]]:
    """Every concrete model with a FileField: its FileField column names."""
    out: dict[type[models.Model], list[str]] = {}
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        cols = [f.name for f in model._meta.local_concrete_fields if isinstance(f, models.FileField)]
        if cols:
            out[model] = cols
    return out


def referenced(names: list[str], storage: Storage | None = None) -> set[str]:
    """Which of `names` (at most CHUNK) something refers to: one query per model."""
    storage = storage or default_storage
    found: set[str] = set()
    if not names:
        return found
    for model, cols in _reference_columns().items():
        q = models.Q()
        for col in cols:
            q |= models.Q(**{f"{col}__in": names})
        for row in model._default_manager.filter(q).values_list(*cols):
            found.update(v for v in row if v)
    # Frames that point at a stored file by path (merged in place on disk) or by "storage:<name>".
    by_path = {STORAGE_PREFIX + n: n for n in names}
    if storage is default_storage:
        by_path.update({p: n for n in names if (p := storage_path(n)) is not None})
    for path in Frame.objects.filter(source_path__in=list(by_path)).values_list("source_path", flat=True):
        found.add(by_path[path])
    return found & set(names)


def hold_reuse_lock(*, shared: bool) -> None:
    """Take the media-reuse advisory lock until the current transaction ends.

    store_frames batches take it shared before they may reuse an unreferenced object; pruning takes it
    exclusive around its re-check and deletes, so it never deletes an object a batch is about to name."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f"SELECT {fn}(%s, %s)", list(REUSE_LOCK))


def walk(storage: Storage, prefix: str) -> Iterator[list[str]]:
    """Chunks of at most CHUNK object names under folder `prefix`, one directory listed at a time."""
    stack = [prefix.rstrip("/")]
    while stack:
        folder = stack.pop()
        try:
            dirs, files = storage.listdir(folder)
        except FileNotFoundError:  # disk storage: the folder was never created (or went meanwhile)
            continue
        stack.extend(posixpath.join(folder, d) for d in sorted(dirs, reverse=True))
        files = sorted(files)
        for i in range(0, len(files), CHUNK):
            yield [posixpath.join(folder, f) for f in files[i:i + CHUNK]]


@dataclass
class Orphan:
    name: str
    size: int
    modified: datetime

    def as_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "modified": self.modified.isoformat()}


@dataclass
class Summary:
    orphans: int = 0
    bytes: int = 0
    kept_recent: int = 0
    deleted: int = 0
    prefixes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _stat(storage: Storage, name: str) -> tuple[int, datetime] | None:
    """(size, modified) of an object, None when it is gone meanwhile."""
    try:
        modified = storage.get_modified_time(name)
        size = storage.size(name)
    except Exception:
        if not storage.exists(name):  # deleted between the listing and now (S3 answers a 404 error)
            return None
        raise
    if timezone.is_naive(modified):
        modified = timezone.make_aware(modified)
    return size, modified


def _delete(storage: Storage, orphans: list[Orphan]) -> set[str]:
    """Delete the orphans still unreferenced, re-checked under the reuse lock; the names deleted."""
    with transaction.atomic():
        hold_reuse_lock(shared=False)
        now_referenced = referenced([o.name for o in orphans], storage)
        gone = set()
        for o in orphans:
            if o.name in now_referenced:
                continue
            storage.delete(o.name)
            if storage is default_storage:
                forget_copy(o.name)
            gone.add(o.name)
    return gone


def prune(prefixes: Iterable[str] | None = None, *, older_than_hours: float = DEFAULT_HOURS, delete: bool = False,
          now: datetime | None = None, storage: Storage | None = None,
          emit: Callable[[dict], None] = lambda line: None) -> dict:
    """Find (and with `delete`, remove) the orphans under `prefixes` (default: every owned folder).

    `emit` gets one dict per orphan (name, size, modified; with `delete` also whether it went). `now`
    stands for the current time (tests age objects that way: an object store's modification time
    cannot be set). Returns the summary: orphans, bytes, kept_recent, deleted, prefixes."""
    if older_than_hours < 0:
        raise ValueError("older_than_hours must be 0 or more")
    storage = storage or default_storage
    roots = narrow(prefixes) if prefixes else owned_prefixes()
    cutoff = (now or timezone.now()) - timedelta(hours=older_than_hours)
    summary = Summary(prefixes=roots)
    for root in roots:
        for names in walk(storage, root):
            names = [n for n in names if not n.startswith(NEVER)]
            found = referenced(names, storage)
            orphans = []
            for name in names:
                if name in found:
                    continue
                stat = _stat(storage, name)
                if stat is None:
                    continue
                if stat[1] > cutoff:  # possibly written by work whose commit is still to come
                    summary.kept_recent += 1
                    continue
                orphans.append(Orphan(name, *stat))
            gone = _delete(storage, orphans) if delete and orphans else set()
            for o in orphans:
                summary.orphans += 1
                summary.bytes += o.size
                summary.deleted += o.name in gone
                emit(o.as_dict() | ({"deleted": o.name in gone} if delete else {}))
    return summary.as_dict()
