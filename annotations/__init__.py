"""The PoseReview Django app: projects, frames, annotations, jobs, review and export."""
