"""python manage.py simulate_active_learning <project-slug> --strategy uncertainty|random --rounds R --batch K --seed S

Hides the labels of a fully labelled project, starts from a small seed set and in rounds trains
(keypoint model and form classifier), measures on fixed held-out clips and reveals the top K of
the uncertain queue's order (or K at random). Prints one JSON line per round; the run is stored
for the models dashboard, where both strategies' curves are drawn side by side.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.core.errors import InputError
from annotations.learning.simulation import STRATEGIES, frames_to_reach, simulate
from annotations.models import Project


def size(text: str) -> list[int]:
    w, h = text.lower().split("x")
    return [int(w), int(h)]


class Command(BaseCommand):
    help = __doc__.strip().splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("project")
        parser.add_argument("--strategy", choices=STRATEGIES, required=True)
        parser.add_argument("--rounds", type=int, default=8)
        parser.add_argument("--batch", type=int, default=15, help="frames revealed per round (K)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--seed-frames", type=int, default=10, help="labelled frames to start from")
        parser.add_argument("--keypoint-epochs", type=int, default=40, help="keypoint model epochs per round")
        parser.add_argument("--keypoint-steps", type=int, default=200,
                            help="at least this many optimiser steps per round (more epochs for small sets)")
        parser.add_argument("--input-size", type=size, default=None, help="keypoint model input, WxH (e.g. 48x64)")
        parser.add_argument("--width", type=int, default=None, help="keypoint model width")
        parser.add_argument("--form-epochs", type=int, default=None)
        parser.add_argument("--heldout-fold", type=int, default=0, help="which of 5 clip-grouped folds is held out")
        parser.add_argument("--backbone", choices=("auto", "blazepose", "scratch"), default=None,
                            help="keypoint network (default: the app's, BlazePose heads when its files are here)")
        parser.add_argument("--no-store", action="store_true", help="do not keep the run for the dashboard")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        kp = {k: v for k, v in (("input_size", opts["input_size"]), ("width", opts["width"]),
                                ("backbone", opts["backbone"])) if v is not None}
        form = {"epochs": opts["form_epochs"]} if opts["form_epochs"] else {}

        def emit(row):
            self.stdout.write(json.dumps(row))
            self.stdout.flush()

        try:
            run = simulate(project, opts["strategy"], opts["rounds"], opts["batch"], opts["seed"],
                           seed_frames=opts["seed_frames"], keypoint_epochs=opts["keypoint_epochs"],
                           keypoint_steps=opts["keypoint_steps"],
                           keypoint_overrides=kp, form_overrides=form, heldout_fold=opts["heldout_fold"],
                           store=not opts["no_store"], emit=emit)
        except InputError as exc:
            raise CommandError(str(exc)) from exc
        summary = {"summary": True, "strategy": run.strategy, "seed": run.seed, "heldout_clips": run.heldout_clips,
                   "frames_to_95pct": {"keypoints_mean_oks": frames_to_reach(run.rounds, "keypoints", "mean_oks"),
                                       "form_f1_macro": frames_to_reach(run.rounds, "form", "f1_macro")},
                   "run": run.pk}
        self.stderr.write(json.dumps(summary))
