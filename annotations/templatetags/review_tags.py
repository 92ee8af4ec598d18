"""Template pieces of the review area that other pages include (the project page's queue panel)."""

from django import template

from annotations.review import queues

register = template.Library()


@register.inclusion_tag("annotations/review/queue_panel.html", takes_context=True)
def queue_panel(context, project):
    """Queue sizes with a start button (and clip/split/label filters) per queue the user may work."""
    user = context["request"].user
    queues.ensure_builtin_queues(project)
    return {
        "project": project, "queues": queues.queue_overview(project, user), "csrf_token": context.get("csrf_token"),
        "clips": list(project.clips.values_list("key", flat=True)),
        "labels": list(project.form_labels.values_list("name", "display_name")),
        "can_refresh": project.has_role(user, "reviewer"), "is_pi": project.has_role(user, "pi"),
    }
