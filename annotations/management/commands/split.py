"""python manage.py split <project-slug> [--train 0.7 --val 0.15 --test 0.15 --seed 42] [--fresh]"""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.datasets.splitting import create_split
from annotations.models import Project


class Command(BaseCommand):
    help = "Create a new clip-grouped split version and print its summary as JSON."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("--train", type=float, default=0.7)
        parser.add_argument("--val", type=float, default=0.15)
        parser.add_argument("--test", type=float, default=0.15)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--fresh", action="store_true",
                            help="reassign every clip instead of keeping the last split")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        try:
            version = create_split(project, ratios={k: opts[k] for k in ("train", "val", "test")}, seed=opts["seed"],
                                   fresh=opts["fresh"])
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"split_version": version.number, **version.summary}))
