"""Small filters for the job pages' per-kind summaries (templates/annotations/jobs/<kind>.html)."""

from django import template

from annotations.datasets.forms import ExportForm

register = template.Library()


@register.filter
def item(mapping, key):
    """mapping[key], or None where mapping is not a dict or lacks the key (a result is stored JSON; Postgres
    keeps its keys sorted, so a template walks a list the result names, e.g. an export's subsets)."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def export_format_name(name):
    """An export format's name as the export form shows it ("Ultralytics YOLO-pose" for yolo_pose)."""
    return dict(ExportForm.base_fields["format"].choices).get(name, name)
