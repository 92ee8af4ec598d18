"""python manage.py setup_demo: the demo admin and the barbell-row demo project, imported through jobs.

Idempotent: a second run reuses what is there. The imports go through the real import job
(queued on Celery when a worker runs; --inline runs the same job in this process).
"""

import json
import os
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.core.jobs import start_job
from annotations.core.storage import in_place_refusal
from annotations.datasets.imports import check_import_folder
from annotations.models import Job, Project

DEMO_SLUG = "barbell-row"
SOURCES = [
    ("correct_n2_3_7_100.json", "correct", "correct"),
    ("lumbar_3_7_dell_111.json", "lumbar", "lumbar_error"),
]


def default_dataset() -> Path:
    return Path(os.environ.get("POSEREVIEW_DATASET", settings.BASE_DIR.parent / "shared" / "datasets" / "barbell-row"))


class Command(BaseCommand):
    help = "Create the demo admin and import the barbell-row dataset into the demo project."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", default=None,
                            help="barbell-row folder (default ../shared/datasets/barbell-row)")
        parser.add_argument("--username", default=os.environ.get("POSEREVIEW_DEMO_USER", "admin"))
        parser.add_argument("--password", default=os.environ.get("POSEREVIEW_DEMO_PASSWORD", "posereview-demo"))
        parser.add_argument("--inline", action="store_true", help="run the import jobs in this process")
        parser.add_argument("--timeout", type=float, default=300)

    def handle(self, *args, **opts):
        dataset = Path(opts["dataset"]) if opts["dataset"] else default_dataset()
        User = get_user_model()
        user = User.objects.filter(username=opts["username"]).first()
        if user is None:
            user = User.objects.create_superuser(opts["username"], "", opts["password"])
            self.stdout.write(f"created demo admin {opts['username']!r}")
        project = Project.objects.filter(slug=DEMO_SLUG).first()
        if project is not None and project.frames.exists():
            self.stdout.write(f"demo project {DEMO_SLUG!r} already holds {project.frames.count()} frames; reusing it")
            return
        if not dataset.is_dir():
            raise CommandError(f"demo dataset not found at {dataset}")
        try:  # the import jobs read it by server path, which must lie inside POSEREVIEW_IMPORT_ROOTS
            check_import_folder(str(dataset), "dataset")
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        project = project or Project.create(DEMO_SLUG, "Barbell row (demo)", "coco17_spine", user=user)
        jobs = []
        for file_name, folder, label in SOURCES:
            params = {"annotation_path": str(dataset / "annotations" / file_name),
                      "images_dir": str(dataset / "images" / folder), "form_label": label,
                      # in place where the rule allows it (media on this disk), else copied into the store
                      "copy_images": in_place_refusal() is not None}
            jobs.append(start_job(project, "import", params, user, run_now=opts["inline"]))
        deadline = time.monotonic() + opts["timeout"]
        for job in jobs:
            while True:
                job.refresh_from_db()
                if job.is_finished:
                    break
                if time.monotonic() > deadline:
                    raise CommandError(f"import job {job.pk} did not finish in time (is a worker running?)")
                time.sleep(0.5)
            if job.status != Job.Status.SUCCEEDED:
                raise CommandError(f"import job {job.pk} failed: {job.message}")
            self.stdout.write(f"job {job.pk}: {job.message}")
        start_job(project, "split", {"seed": 42}, user, run_now=opts["inline"])
        self.stdout.write(json.dumps({"project": DEMO_SLUG, "frames": project.frames.count(),
                                      "annotated": project.frames.filter(annotations__isnull=False)
                                                                 .distinct().count()}))
