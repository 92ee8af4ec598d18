"""Project figures shown on pages and over REST (counted in the database, never cached).

Two statements: one pass over the project's frames (by status, and those without an image), one over
its annotations joined to their frames (distinct frames per split and form label, annotated frames and
clips), so the project page reads each table once however many frames it has."""

from django.db import connection

from annotations.models import Annotation, Clip, FormLabel, Frame

FRAMES_SQL = """
    SELECT status, count(*), count(*) FILTER (WHERE image = '' AND source_path = '')
    FROM {frame} WHERE project_id = %(p)s GROUP BY status"""

# labelled: one row per (frame, form label) the annotations of the frame carry, with the frame's split
# and clip; a frame with two labels counts once per label, as in the per-label figures.
ANNOTATED_SQL = """
    WITH labelled AS MATERIALIZED (
        SELECT a.frame_id, a.form_label_id, f.split, f.clip_id
        FROM (SELECT DISTINCT frame_id, form_label_id FROM {annotation} WHERE project_id = %(p)s) a
        JOIN {frame} f ON f.id = a.frame_id)
    SELECT l.split, fl.name, count(*), NULL::bigint, NULL::bigint
    FROM labelled l LEFT JOIN {label} fl ON fl.id = l.form_label_id GROUP BY 1, 2
    UNION ALL
    SELECT NULL, NULL, NULL, count(DISTINCT frame_id), count(DISTINCT clip_id) FROM labelled"""


def project_stats(project) -> dict:
    tables = {"frame": Frame._meta.db_table, "annotation": Annotation._meta.db_table,
              "label": FormLabel._meta.db_table}
    with connection.cursor() as cur:
        cur.execute(FRAMES_SQL.format(**tables), {"p": project.pk})
        by_status = cur.fetchall()
        cur.execute(ANNOTATED_SQL.format(**tables), {"p": project.pk})
        annotated_rows = cur.fetchall()
    total = sum(n for _, n, _ in by_status)
    by_label: dict[str, int] = {}
    by_split_label: dict[str, dict] = {}
    annotated, annotated_clips = 0, 0
    for split, label, n, frames, clips in sorted(annotated_rows, key=lambda r: (r[0] or "", r[1] or "")):
        if n is None:
            annotated, annotated_clips = frames, clips
            continue
        by_label[label or "none"] = by_label.get(label or "none", 0) + n  # a frame has one split
        by_split_label.setdefault(split or "unassigned", {})[label or "none"] = n
    return {
        "frames": total,
        "annotated_frames": annotated,
        "unlabelled_pool": total - annotated,
        "clips": Clip.objects.filter(project=project).count(),
        "annotated_clips": annotated_clips,
        "frames_by_status": {status: n for status, n, _ in by_status},
        "annotated_frames_by_label": by_label,
        "annotated_frames_by_split": by_split_label,
        "missing_images": sum(missing for _, _, missing in by_status),
    }
