"""Pages of the video area: the video list with its (resumable) upload form, and the clip timeline.

Both pages are thin: they render a frame and hand over to static/annotations/video_upload.js and
timeline.js, which talk to the REST endpoints in api_video.py.
"""

from __future__ import annotations

from django.db.models import Count
from django.shortcuts import get_object_or_404, render

from annotations.core.permissions import project_for
from annotations.models import Clip, Role, Video
from annotations.video.naming import VIDEO_EXTENSIONS


def video_list(request, slug):
    project = project_for(request.user, slug)
    videos = (Video.objects.filter(project=project).order_by("-created_at")
              .prefetch_related("clips"))
    clip_frames = dict(Clip.objects.filter(project=project, video__isnull=False)
                       .annotate(n=Count("frames")).values_list("pk", "n"))
    rows = [(v, [(c, clip_frames.get(c.pk, 0)) for c in v.clips.all()]) for v in videos]
    return render(request, "annotations/video/video_list.html", {
        "project": project, "rows": rows, "can_upload": project.has_role(request.user, Role.PI),
        "accept": ",".join(VIDEO_EXTENSIONS) + ",video/*",
    })


def clip_timeline(request, slug, key):
    project = project_for(request.user, slug)
    clip = get_object_or_404(Clip.objects.select_related("video"), project=project, key=key)
    return render(request, "annotations/video/timeline.html", {
        "project": project, "clip": clip,
        "can_interpolate": project.has_role(request.user, Role.ANNOTATOR),
        "can_feed_queue": project.has_role(request.user, Role.REVIEWER),
        "can_extract": project.has_role(request.user, Role.PI),
    })
