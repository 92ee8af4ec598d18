"""The active-learning loop's job kinds: predict (and upload validation), score, retrain. Each runs on
the `ml` queue and stops at its next progress report when cancelled; a retrain whose worker died
leaves no model version in training (discard_unfinished)."""

from __future__ import annotations

from annotations.core.jobs import QueueUnavailable, job_handler, start_job
from annotations.core.progress import Progress
from annotations.learning.predict import predict_frames
from annotations.learning.retrain import discard_unfinished, run_retrain
from annotations.learning.score import score_project
from annotations.learning.uploads import validate_upload
from annotations.models import Job, Role


@job_handler(Job.Kind.PREDICT, queue="ml", role=Role.REVIEWER, time_limit=4 * 3600)
def run_predict_job(job: Job) -> dict:
    """Predict (params: frames | clips | scope, model_version, flip_test, mc_samples), then score unless
    then_score is false; or validate an uploaded model (params: validate = its version id)."""
    params = job.params or {}
    if params.get("validate"):
        return validate_upload(job.project, int(params["validate"]), job)
    result = predict_frames(job.project, params, job, Progress(job))
    if params.get("then_score", True) and result.get("predictions"):
        try:
            result["next_job"] = start_job(job.project, Job.Kind.SCORE, {"model_version": result["model_version_id"]},
                                           job.created_by).pk
        except QueueUnavailable as exc:  # the predictions are stored; the score job's row says why it did not run
            result["next_job"] = exc.job.pk
    job.message = f"{result['predictions']} predictions on {result['frames']} frames with {result['model_version']}"
    return result


@job_handler(Job.Kind.SCORE, queue="ml", role=Role.REVIEWER, time_limit=2 * 3600)
def run_score_job(job: Job) -> dict:
    result = score_project(job.project, job.params or {}, job, Progress(job))
    job.message = (f"{result['uncertain'].get('frames', 0)} pool frames ranked, "
                   f"{result['label_error'].get('flagged', 0)} suspected label errors")
    return result


@job_handler(Job.Kind.RETRAIN, queue="ml", role=Role.PI, time_limit=12 * 3600, on_abandon=discard_unfinished)
def run_retrain_job(job: Job) -> dict:
    return run_retrain(job)

