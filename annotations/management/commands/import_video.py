"""python manage.py import_video <project-slug> <file> [--every N | --fps F | --all] [--clip-id ID]

Runs the same extraction job as an upload (the file is copied in as an upload first, so the job
keeps its own copy as the video's file) and prints a JSON summary.
"""

import json
import os
import uuid

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.core.files import remove_upload
from annotations.models import Job, Project
from annotations.video import extraction as videos

SUMMARY_KEYS = ("video", "clip", "frames", "new_frames", "kept_frames", "removed_frames", "source_frames", "fps",
                "duration", "width", "height", "codec", "rotation", "variable_frame_rate", "preannotation")


class Command(BaseCommand):
    help = "Extract the frames of a video file into a project (the upload's job) and print a JSON summary."

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("file", help="mp4, mov, avi, webm or mkv file")
        rate = parser.add_mutually_exclusive_group()
        rate.add_argument("--every", type=int, metavar="N", help="every Nth frame")
        rate.add_argument("--fps", type=float, metavar="F", help="about F frames per second (by timestamps)")
        rate.add_argument("--all", action="store_true", help="every frame (the default)")
        parser.add_argument("--clip-id", help="clip id, e.g. 52723_8 (default: <video>_1)")
        parser.add_argument("--video", help="video name (default: from the clip id or the file name)")
        parser.add_argument("--preannotate", action="store_true", help="start the model's predict/score jobs")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        path = opts["file"]
        if not os.path.isfile(path):
            raise CommandError(f"{path}: no such file")
        mode = "every" if opts["every"] is not None else "fps" if opts["fps"] is not None else "all"
        try:
            videos.check_video_file_name(path)
            options = videos.extraction_options({"mode": mode, "every": opts["every"], "fps": opts["fps"],
                                                 "clip": opts["clip_id"], "video": opts["video"],
                                                 "preannotate": opts["preannotate"]})
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        with open(path, "rb") as fh:
            upload = default_storage.save(f"uploads/{uuid.uuid4().hex}/{os.path.basename(path)}", File(fh))
        try:
            job = videos.start_extraction(project, upload, os.path.basename(path), options, run_now=True)
        except BaseException:
            remove_upload(upload)
            raise
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"extraction failed: {job.message}")
        result = job.result
        self.stdout.write(json.dumps({"job": job.pk, **{k: result.get(k) for k in SUMMARY_KEYS}}))
