"""The retrain job: a split version's verified annotations -> keypoint model + form classifier ->
held-out evaluation -> ModelVersions with artifacts -> promotion -> predict and score again.

Never two retrains of one project at once: a PostgreSQL advisory lock keyed by the project is
held for the whole job (a crashed worker's session ends and frees it), and start_retrain
refuses a second one while one is queued or running. A retrain whose worker died (its heartbeat
stopped, see annotations/core/jobs.py) is failed first, so it never blocks the next one; its model
versions end failed and their files are removed (discard_unfinished).
"""

from __future__ import annotations

import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.db import connection, transaction

from annotations.core.errors import InputError
from annotations.core.jobs import QueueUnavailable, reap_stale_jobs, start_job
from annotations.core.progress import JobCancelled, Progress
from annotations.learning.artifacts import store_model_dir
from annotations.learning.baselines import compare_with_untuned
from annotations.learning.data import (
    clips_of,
    ensure_split,
    learnable_skeleton,
    linked_images,
    subset_coco,
    without_private,
)
from annotations.learning.pretraining import pretrain, pseudo_label_set, teacher_for
from annotations.learning.promotion import decide
from annotations.learning.training import (
    evaluate_form_dir,
    evaluate_keypoint_dir,
    form_config,
    has_form_labels,
    keypoint_config,
    train_form_model,
    train_keypoint_model,
)
from annotations.models import Job, LearningSettings, ModelKind, ModelStatus, ModelVersion, Project, SplitVersion
from mlcore.training.keypoints import resolve_backbone

LOCK_NAMESPACE = 1381258801  # first key of the two-int advisory lock; the second is the project id


@contextmanager
def retrain_lock(project):
    """Yields True when this session now holds the project's retrain lock (False: someone else does)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, project.pk])
        got = bool(cur.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, project.pk])


def unfinished_retrain(project, exclude: int | None = None) -> Job | None:
    qs = Job.objects.filter(project=project, kind=Job.Kind.RETRAIN, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    if exclude:
        qs = qs.exclude(pk=exclude)
    return qs.order_by("created_at").first()


def start_retrain(project, params: dict | None = None, user=None) -> Job:
    """Queue a retrain unless one of this project is already queued or running (InputError then)."""
    reap_stale_jobs(project)  # a retrain whose worker died must not block this one
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()  # serialise concurrent starts
        other = unfinished_retrain(project)
        if other is not None:
            raise InputError(f"a retrain of {project.slug} is already {other.status} (job {other.pk})")
        return start_job(project, Job.Kind.RETRAIN, params or {}, user)


def fail_versions(qs, reason: str) -> int:
    """Mark the unfinished (training or validating) model versions of `qs` failed and remove their files."""
    n = 0
    for version in qs.filter(status__in=[ModelStatus.TRAINING, ModelStatus.VALIDATING]):
        for field in ("checkpoint", "onnx", "onnx_int8"):
            f = getattr(version, field)
            if f:
                f.delete(save=False)
        version.status, version.promotion = ModelStatus.FAILED, {"promoted": False, "reason": reason}
        version.save(update_fields=["status", "promotion", "checkpoint", "onnx", "onnx_int8"])
        n += 1
    return n


def discard_unfinished(job: Job, reason: str) -> None:
    """on_abandon of the retrain kind: its worker died, so its unfinished model versions fail."""
    fail_versions(ModelVersion.objects.filter(job=job), reason)


def _split_version(project, params: dict, user) -> SplitVersion:
    if params.get("split_version"):
        version = SplitVersion.objects.filter(project=project, number=int(params["split_version"])).first()
        if version is None:
            raise InputError(f"project {project.slug} has no split version {params['split_version']}")
        return version
    return ensure_split(project, user)


def retrain(project, params: dict, job: Job | None, progress: Progress) -> dict:
    settings = LearningSettings.of(project)
    user = job.created_by if job else None
    split = _split_version(project, params, user)
    progress(0.01, f"collecting verified annotations of split v{split.number}")
    train, val, test = (subset_coco(project, split, s) for s in ("train", "val", "test"))
    if not train["annotations"]:
        raise InputError(f"split v{split.number} has no verified annotations in its train clips")
    try:
        kp_cfg = keypoint_config({**settings.keypoint_config, **(params.get("keypoint_config") or {})})
        fm_cfg = form_config({**settings.form_config, **(params.get("form_config") or {})})
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from exc
    skeleton = learnable_skeleton(project.get_skeleton(), train)
    teacher = teacher_for(project, settings, params)
    pseudo = pseudo_label_set(project, split, teacher) if teacher else None
    try:
        pretrain_epochs = int(params.get("pretrain_epochs", settings.pretrain_epochs))
    except (TypeError, ValueError):
        raise InputError("'pretrain_epochs' must be a whole number") from None
    number = ModelVersion.next_number(project)
    common = dict(project=project, number=number, job=job, split_version=split, heldout_clips=clips_of(test),
                  training_frames=len(train["images"]), created_by=user)
    train_form = has_form_labels(train) and not params.get("skip_form")
    versions = {ModelKind.KEYPOINTS: ModelVersion.objects.create(
        kind=ModelKind.KEYPOINTS, keypoint_names=list(skeleton.keypoints), training_config=kp_cfg.to_dict(), **common)}
    if train_form:
        versions[ModelKind.FORM] = ModelVersion.objects.create(
            kind=ModelKind.FORM, keypoint_names=list(skeleton.keypoints), training_config=fm_cfg.to_dict(), **common)
    decisions = {}
    try:
        with linked_images(train, val, test, *([pseudo] if pseudo else [])) as images, \
                tempfile.TemporaryDirectory() as tmp:
            tr, va, te = without_private(train), without_private(val), without_private(test)
            kp_dir, form_dir = Path(tmp) / "keypoints", Path(tmp) / "form"
            t0 = time.time()
            kp_end = 0.6 if train_form else 0.8
            kp_mid = (0.03 + kp_end) / 2   # pretraining, when there is one, takes the first half of the keypoint span
            pretraining, init_from = None, None
            # Pseudo-label pretraining warms up the from-scratch network; BlazePose's backbone is pretrained.
            if teacher is not None and pseudo is not None and resolve_backbone(kp_cfg.backbone) == "scratch":
                pretraining, init_from = pretrain(teacher, pseudo, pretrain_epochs, images, Path(tmp) / "pretrained",
                                                  skeleton, kp_cfg, progress.sub(0.03, kp_mid))
            report = train_keypoint_model(tr, va, images, kp_dir, skeleton, kp_cfg, init_from=init_from,
                                          progress=progress.sub(kp_mid if init_from else 0.03, kp_end))
            progress(kp_end, "evaluating the keypoint model on the held-out clips")
            kp = versions[ModelKind.KEYPOINTS]
            heldout_results: list[dict] = []
            kp.metrics = {"keypoints": evaluate_keypoint_dir(kp_dir, te, images, results_out=heldout_results),
                          "keypoints_int8": evaluate_keypoint_dir(kp_dir, te, images, int8=True),
                          "training": report, "training_seconds": round(time.time() - t0, 1),
                          "heldout_frames": len(te["images"])}
            if pretraining is not None:
                kp.metrics["pretraining"] = pretraining
            progress(kp_end, "untuned BlazePose on the same held-out clips (the bar to clear)")
            kp.metrics["untuned_blazepose"] = compare_with_untuned(te, images, heldout_results)
            kp.status = ModelStatus.READY
            store_model_dir(kp, kp_dir)
            if train_form:
                t0 = time.time()
                fm = versions[ModelKind.FORM]
                report = train_form_model(tr, va, form_dir, skeleton, fm_cfg, progress=progress.sub(0.65, 0.8))
                fm.metrics = {"form": evaluate_form_dir(form_dir, te),
                              "form_int8": evaluate_form_dir(form_dir, te, True),
                              "training": report, "training_seconds": round(time.time() - t0, 1),
                              "heldout_frames": len(te["images"])}
                fm.status = ModelStatus.READY
                store_model_dir(fm, form_dir)
            progress(0.85, "comparing with the active models on the same held-out clips")
            for kind, version in versions.items():
                decisions[kind] = decide(version, te, images, force=bool(params.get("force")), user=user)
    except BaseException as exc:
        reason = "cancelled" if isinstance(exc, JobCancelled) else f"{type(exc).__name__}: {exc}"
        # By the stored status: a version whose final save failed is still `training` there, with files.
        fail_versions(ModelVersion.objects.filter(pk__in=[v.pk for v in versions.values()]), reason)
        raise
    chained = chain_after(project, params, user, promoted=any(d["promoted"] for d in decisions.values()))
    progress(1.0, summary_message(versions, decisions))
    if job is not None:
        job.message = summary_message(versions, decisions)
    return {"split_version": split.number, "number": number, "training_frames": len(train["images"]),
            "heldout_clips": clips_of(test), "skeleton": list(skeleton.keypoints),
            "models": {k: {"id": v.pk, "label": v.label, "promoted": decisions[k]["promoted"],
                           "reason": decisions[k]["reason"], "quality": decisions[k]["candidate"]}
                       for k, v in versions.items()},
            "next_job": chained.pk if chained else None, "next_job_kind": chained.kind if chained else None}


def chain_after(project, params: dict, user, promoted: bool) -> Job | None:
    """After a retrain: predict (then score) with a newly promoted model, else re-score what is there."""
    if params.get("chain", True) is False:
        return None
    predict = dict(params.get("predict") or {})
    try:
        if promoted:
            return start_job(project, Job.Kind.PREDICT, {**predict, "then_score": True}, user)
        if ModelVersion.objects.filter(project=project, predictions__isnull=False).exists():
            return start_job(project, Job.Kind.SCORE, {}, user)
    except QueueUnavailable:  # the models are stored; that job's row says failed and why, start it again later
        return None
    return None


def summary_message(versions: dict, decisions: dict) -> str:
    parts = []
    for kind, version in versions.items():
        d = decisions.get(kind, {})
        q = d.get("candidate", [None])[0]
        parts.append(f"{version.label}: {d.get('metric', ['?'])[0]} {q:.3f} " if q is not None and q >= 0
                     else f"{version.label}: ")
        parts[-1] += "promoted" if d.get("promoted") else "not promoted"
    return "; ".join(parts)


def run_retrain(job: Job) -> dict:
    project = job.project
    if project is None:
        raise InputError(f"job {job.pk} belongs to no project")
    with retrain_lock(project) as got:
        if not got:
            raise InputError(f"another retrain of {project.slug} is running; this one did nothing")
        return retrain(project, job.params or {}, job, Progress(job))
