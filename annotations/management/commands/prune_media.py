"""python manage.py prune_media [--older-than HOURS] [--delete] [--prefix P ...]

Lists media objects that nothing refers to (annotations/core/pruning.py says which folders and why
recent ones stay): one JSON line per orphan, then a summary line. Deletes them only with --delete.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core import pruning


class Command(BaseCommand):
    help = ("List (or with --delete remove) media objects that no FileField refers to, in the folders "
            "FileFields own; JSON lines, then a summary line.")

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=pruning.DEFAULT_HOURS, metavar="HOURS",
                            help="keep objects modified less than this many hours ago (default 24)")
        parser.add_argument("--delete", action="store_true", help="delete the orphans (default: a dry run)")
        parser.add_argument("--prefix", nargs="+", default=None, metavar="P",
                            help="only these folders, each inside one FileFields own (e.g. frames/demo/)")

    def handle(self, *args, **opts):
        try:
            summary = pruning.prune(opts["prefix"], older_than_hours=opts["older_than"], delete=opts["delete"],
                                    emit=lambda line: self.stdout.write(json.dumps(line)))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps({"summary": summary}))
