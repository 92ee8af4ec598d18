from importlib import import_module

from django.apps import AppConfig

from annotations.features import JOB_FEATURES


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "PoseReview annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Each feature's jobs.py registers its job kinds (annotations.core.jobs.REGISTRY).
        for feature in JOB_FEATURES:
            import_module(f"annotations.{feature}.jobs")
        # Reads at each sign-in whether the person must first replace a password a PI set.
        import_module("annotations.core.passwords")
