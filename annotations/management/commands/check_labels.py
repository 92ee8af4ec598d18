"""python manage.py check_labels <project-slug>: one JSON line per flag, then a summary line."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.models import Project
from annotations.quality import checks

FIELDS = ("frame", "file_name", "annotation", "kind", "keypoints", "reason")


class Command(BaseCommand):
    help = "Model-free label checks over a project's verified annotations (JSON lines, then a summary line)."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--kinds", default="",
                            help=f"comma-separated checks (default all: {','.join(checks.KINDS)})")
        parser.add_argument("--feed-queue", action="store_true", help="also put the flagged frames in the "
                            "label-error review queue")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        try:
            kinds = checks.parse_kinds(opts["kinds"])
            report = (checks.check_and_feed if opts["feed_queue"] else checks.check_labels)(project, kinds=kinds)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        for flag in report["flags"]:
            self.stdout.write(json.dumps({k: flag[k] for k in FIELDS} | {"score": flag["score"]}))
        self.stdout.write(json.dumps({"summary": report["summary"]}))
