"""python manage.py store_frames <project-slug> [--batch-size N]

Moves the project's frames imported in place into media storage (the store_frames job, run here), so
that workers on other machines can read them, and prints a JSON summary. Safe to run again: it goes
on with the frames still in place.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.jobs import start_job
from annotations.models import Job, Project


class Command(BaseCommand):
    help = "Move a project's frames imported in place into media storage and print a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("--batch-size", type=int, default=200, help="frames per transaction (1-5000)")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        if not 1 <= opts["batch_size"] <= 5000:
            raise CommandError("--batch-size must be between 1 and 5000")
        job = start_job(project, Job.Kind.STORE_FRAMES, {"batch_size": opts["batch_size"]}, run_now=True)
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"job {job.pk} {job.status}: {job.message}")
        self.stdout.write(json.dumps({"job": job.pk, **job.result}))
        if job.result["left_in_place"]:
            raise CommandError(f"job {job.pk}: {job.message}")
