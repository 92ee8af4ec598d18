"""python manage.py export_coco <project-slug> --split <train|val|test|all> --out <file>
[--format coco|yolo_pose|mmpose|cvat_coco|cvat_xml] [--include-images] [--include-unconfirmed]"""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.datasets import exporting
from annotations.datasets.formats import FORMATS
from annotations.models import Project


class Command(BaseCommand):
    help = "Write one subset's annotated frames as COCO keypoint JSON or another export format."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("--split", required=True, choices=exporting.SUBSET_CHOICES)
        parser.add_argument("--out", required=True)
        parser.add_argument("--split-version", type=int, help="split version (default: the newest)")
        parser.add_argument("--format", default="coco", choices=sorted(FORMATS),
                            help="coco, yolo_pose, mmpose, cvat_coco (CVAT 'COCO Keypoints 1.0') or cvat_xml "
                                 "(CVAT for images 1.1)")
        parser.add_argument("--include-images", action="store_true")
        parser.add_argument("--include-unconfirmed", action="store_true",
                            help="write heuristic, predicted and unverified points as stored (default: unlabelled)")
        parser.add_argument("--verified-only", action="store_true",
                            help="the default; kept for scripts (overrides --include-unconfirmed)")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        try:
            _, summary = exporting.export(project, opts["format"], [opts["split"]],
                                          version_number=opts["split_version"],
                                          include_images=opts["include_images"],
                                          include_unconfirmed=opts["include_unconfirmed"] and not opts["verified_only"],
                                          out_path=opts["out"])
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(summary))
