"""python manage.py import_coco <project-slug> <annotation.json|export.zip> --images <dir> [...]"""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.datasets import importing
from annotations.models import Project
from mlcore.skeletons import PRESETS

SUMMARY_KEYS = ("frames", "annotated", "clips", "missing_images", "unlisted_images", "revisions", "conflicts")


class Command(BaseCommand):
    help = "Import one COCO keypoint file (or CVAT export zip) and print a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("annotation", help="COCO / CVAT JSON file, or a CVAT export zip")
        parser.add_argument("--images", help="folder with the images")
        parser.add_argument("--copy-images", action="store_true", help="copy images into media storage")
        parser.add_argument("--form-label", help="form label for every annotation of this file")
        parser.add_argument("--skeleton", default="coco17_spine", choices=sorted(PRESETS),
                            help="skeleton preset of a project created with --create")
        parser.add_argument("--create", action="store_true", help="create the project if it does not exist")
        parser.add_argument("--full", action="store_true", help="print the whole result, not just the summary")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            if not opts["create"]:
                raise CommandError(f"no project {opts['project']!r} (use --create)")
            project = Project.create(opts["project"], preset=opts["skeleton"])
        try:
            if opts["annotation"].lower().endswith(".zip"):
                result = importing.import_cvat_zip(project, opts["annotation"], form_label=opts["form_label"])
            else:
                result = importing.import_coco_file(project, opts["annotation"], images_dir=opts["images"],
                                                    copy_images=opts["copy_images"], form_label=opts["form_label"])
        except InputError as exc:
            raise CommandError(f"{exc}" + "".join(f"\n  {p}" for p in exc.problems[:50])) from exc
        summary = result if opts["full"] else {
            **{k: result[k] for k in SUMMARY_KEYS},
            "missing_images": result["missing_images"], "unlisted_images": result["unlisted_images"],
            "conflicts": len(result["conflicts"]), "new_annotations": result["new_annotations"],
            "problems": len(result["problems"]),
        }
        self.stdout.write(json.dumps(summary))
