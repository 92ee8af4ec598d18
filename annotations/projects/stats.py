"""Project figures shown on pages and over REST (counted in the database, never cached)."""

from django.db.models import Count

from annotations.models import Annotation, Frame


def project_stats(project) -> dict:
    frames_by_status = dict(Frame.objects.filter(project=project).values_list("status").annotate(n=Count("id")))
    annotated_frames = Frame.objects.filter(project=project, annotations__isnull=False).distinct()
    by_label = dict(
        Annotation.objects.filter(project=project).values_list("form_label__name")
        .annotate(n=Count("frame", distinct=True))
    )
    by_split_label: dict[str, dict] = {}
    for split, label, n in (Annotation.objects.filter(project=project)
                            .values_list("frame__split", "form_label__name").annotate(n=Count("frame", distinct=True))):
        by_split_label.setdefault(split or "unassigned", {})[label or "none"] = n
    total = Frame.objects.filter(project=project).count()
    annotated = annotated_frames.count()
    return {
        "frames": total,
        "annotated_frames": annotated,
        "unlabelled_pool": total - annotated,
        "clips": project.clips.count(),
        "annotated_clips": project.clips.filter(frames__annotations__isnull=False).distinct().count(),
        "frames_by_status": frames_by_status,
        "annotated_frames_by_label": {(k or "none"): v for k, v in by_label.items()},
        "annotated_frames_by_split": by_split_label,
        "missing_images": Frame.objects.filter(project=project, image="", source_path="").count(),
    }
