"""The active-learning loop as jobs: predict, score, retrain (and upload validation), plus triggers.

services/jobs.py resolves the handlers below by dotted path; each takes its Job and returns the
result dict stored on it.
"""

from __future__ import annotations

from ...models import Job
from ..jobs import start_job
from .predict import predict_frames
from .progress import Progress, cancellable
from .retrain import run_retrain, start_retrain
from .score import score_project
from .uploads import validate_upload


@cancellable
def run_predict_job(job: Job) -> dict:
    """Predict (params: frames | clips | scope, model_version, flip_test, mc_samples), then score unless
    then_score is false; or validate an uploaded model (params: validate = its version id)."""
    params = job.params or {}
    if params.get("validate"):
        return validate_upload(job.project, int(params["validate"]), job)
    result = predict_frames(job.project, params, job, Progress(job))
    if params.get("then_score", True) and result.get("predictions"):
        result["next_job"] = start_job(job.project, Job.Kind.SCORE, {"model_version": result["model_version_id"]},
                                       job.created_by).pk
    job.message = f"{result['predictions']} predictions on {result['frames']} frames with {result['model_version']}"
    return result


@cancellable
def run_score_job(job: Job) -> dict:
    result = score_project(job.project, job.params or {}, job, Progress(job))
    job.message = (f"{result['uncertain'].get('frames', 0)} pool frames ranked, "
                   f"{result['label_error'].get('flagged', 0)} suspected label errors")
    return result


@cancellable
def run_retrain_job(job: Job) -> dict:
    return run_retrain(job)


__all__ = ["run_predict_job", "run_score_job", "run_retrain_job", "start_retrain"]
