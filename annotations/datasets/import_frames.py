"""The frame half of an import: clips, frame rows (binary COPY), and images referenced in place or copied."""

from __future__ import annotations

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from annotations.core.binary_copy import RowBlock, copy_blocks
from annotations.core.copying import copy_rows
from annotations.core.images import BadImage, check_image
from annotations.datasets.import_context import ImportContext
from annotations.models import Clip, Frame, FrameStatus


class FrameImport:
    """Writes the file's images as frames of their clips. `stored`: storage names of copied images
    (removed by the caller if the import fails); `problems`: the import's problem list."""

    def __init__(self, ctx: ImportContext, stored: list, problems: list):
        self.ctx, self.stored, self.problems = ctx, stored, problems

    def write(self, images, image_files, annotated_ids: set, copy_images: bool) -> tuple[dict, int]:
        """({image id: frame id} for every image, number of new frames)."""
        project = self.ctx.project
        self.clip_of = {im["id"]: self.clip_of_image(im) for im in images}
        clip_ids = self._ensure_clips(images)
        existing = dict(Frame.objects.filter(project=project).values_list("file_name", "id"))
        new_images = [im for im in images if im["file_name"] not in existing]
        self.ctx.report(0.2, f"writing {len(new_images)} new frames")
        self._copy_frames(new_images, image_files, copy_images, clip_ids, annotated_ids, self.stored, self.problems)
        frame_ids = dict(Frame.objects.filter(project=project).values_list("file_name", "id"))
        id_to_frame = {im["id"]: frame_ids[im["file_name"]] for im in images}
        self._fill_images_of_existing(images, existing, image_files, copy_images, self.stored, self.problems)
        return id_to_frame, len(new_images)

    def clip_of_image(self, im) -> tuple[str, int | None]:
        clip, frame_index = self.ctx.project.parse_file_name(im["file_name"])
        return (im["clip_id"] or clip), frame_index

    def _ensure_clips(self, images) -> dict[str, int]:
        """Clip key -> id for every clip the file's images name, creating the missing ones.

        New clips go in with COPY and their ids are read back in one query: a 100k-frame file
        brings ~17k clips, where bulk_create's INSERT ... RETURNING took about a second.
        """
        keys = {clip for clip, _ in self.clip_of.values()}
        clips = dict(Clip.objects.filter(project=self.ctx.project).values_list("key", "id"))
        new = sorted(keys - clips.keys())
        if new:
            now = timezone.now()
            copy_rows(Clip._meta.db_table, ["project_id", "key", "created_at"],
                      ((self.ctx.project.pk, key, now) for key in new))
            clips = dict(Clip.objects.filter(project=self.ctx.project).values_list("key", "id"))
        return clips

    def _store_image(self, path: str, file_name: str, stored: list) -> str:
        """Validate and copy one image into media storage; returns the storage name."""
        check_image(path)
        with open(path, "rb") as fh:
            name = default_storage.save(f"frames/{self.ctx.project.slug}/{file_name}", File(fh))
        stored.append(name)
        return name

    def _copy_frames(self, new_images, image_files, copy_images, clip_ids, annotated_ids, stored, problems):
        # Every NOT NULL column is written: Django's field defaults live in Python, not in the table.
        project, source = self.ctx.project, self.ctx.source

        def pixels(n, im) -> tuple[str, str]:
            """(stored image name, source path) of one new frame."""
            path = image_files.get(im["file_name"])
            if not path:
                return "", ""
            if not copy_images:
                return "", path
            if n % 50 == 0:
                self.ctx.report(0.2 + 0.3 * n / max(len(new_images), 1), f"copied {n} images")
            try:
                return self._store_image(path, im["file_name"], stored), ""
            except BadImage as exc:
                problems.append({"file": source.name, "id": im["id"],
                                 "reason": f"{im['file_name']}: {exc}; frame kept without its image",
                                 "action": "kept"})
                return "", ""

        def blocks(chunk=10_000):
            for start in range(0, len(new_images), chunk):
                part = new_images[start:start + chunk]
                stored_as = [pixels(start + n, im) for n, im in enumerate(part)]
                clips = [self.clip_of[im["id"]] for im in part]
                yield (RowBlock(len(part))
                       .number("project_id", ">i8", project.pk)
                       .number("clip_id", ">i8", [clip_ids[clip] for clip, _ in clips])
                       .number("width", ">i4", [im["width"] for im in part])
                       .number("height", ">i4", [im["height"] for im in part])
                       .number("priority", ">f8", 0.0)
                       .number("source_id", ">i8", source.pk)
                       .number("source_image_id", ">i8", [im["id"] for im in part])
                       .timestamp("created_at", self.ctx.now)
                       .fixed_text("thumbnail", b"", 0)
                       .fixed_text("split", b"", 0)
                       .text("file_name", [im["file_name"] for im in part])
                       .text("image", [image for image, _ in stored_as])
                       .text("source_path", [path for _, path in stored_as])
                       .text("status", [FrameStatus.ANNOTATED if im["id"] in annotated_ids else FrameStatus.UNLABELLED
                                        for im in part])
                       .nullable_int("frame_index", [index for _, index in clips], size=4))

        copy_blocks(Frame._meta.db_table, blocks())

    def _fill_images_of_existing(self, images, existing, image_files, copy_images, stored, problems):
        """Frames imported earlier without their image get it when a later import brings it."""
        names = [im["file_name"] for im in images if im["file_name"] in existing and im["file_name"] in image_files]
        for frame in Frame.objects.filter(project=self.ctx.project, file_name__in=names, image="", source_path=""):
            path = image_files[frame.file_name]
            try:
                if copy_images:
                    frame.image = self._store_image(path, frame.file_name, stored)
                else:
                    frame.source_path = path
            except BadImage as exc:
                problems.append({"file": self.ctx.source.name, "id": frame.file_name, "reason": str(exc),
                                 "action": "kept"})
                continue
            frame.save(update_fields=["image", "source_path"])
