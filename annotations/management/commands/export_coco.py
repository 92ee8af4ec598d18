"""python manage.py export_coco <project-slug> --split <train|val|test|all> --out <file.json>"""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.datasets import exporting
from annotations.models import Project


class Command(BaseCommand):
    help = "Write one subset's annotated frames as COCO keypoint JSON."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("--split", required=True, choices=exporting.SUBSET_CHOICES)
        parser.add_argument("--out", required=True)
        parser.add_argument("--split-version", type=int, help="split version (default: the newest)")
        parser.add_argument("--format", default="coco", help="coco, yolo_pose or mmpose")
        parser.add_argument("--include-images", action="store_true")
        parser.add_argument("--verified-only", action="store_true")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        try:
            _, summary = exporting.export(project, opts["format"], [opts["split"]],
                                          version_number=opts["split_version"],
                                          include_images=opts["include_images"], verified_only=opts["verified_only"],
                                          out_path=opts["out"])
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(summary))
