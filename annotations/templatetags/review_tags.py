"""Template pieces of the review area that other pages include (the project page's queue panel)."""

from django import template

from annotations.review import queues

register = template.Library()

# Up to this many clips the panel offers a list to pick from; a project with more gets a text field for
# the clip key (a list of 25,000 options is half a megabyte of page nobody scrolls).
CLIP_CHOICES = 300


@register.inclusion_tag("annotations/review/queue_panel.html", takes_context=True)
def queue_panel(context, project):
    """Queue sizes with a start button (and clip/split/label filters) per queue the user may work."""
    user = context["request"].user
    queues.ensure_builtin_queues(project)
    clips = list(project.clips.order_by("key").values_list("key", flat=True)[:CLIP_CHOICES + 1])
    return {
        "project": project, "queues": queues.queue_overview(project, user), "csrf_token": context.get("csrf_token"),
        "clips": clips if len(clips) <= CLIP_CHOICES else None,
        "labels": list(project.form_labels.values_list("name", "display_name")),
        "can_refresh": project.has_role(user, "reviewer"), "is_pi": project.has_role(user, "pi"),
    }
