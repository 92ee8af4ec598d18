"""Who may see and change what. Outsiders get 404 (a project they are not in does not exist for
them); members without the needed role get 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotations.models import Project, Role


def project_for(user, slug: str, minimum: str = Role.ANNOTATOR) -> Project:
    """The project if `user` has at least the `minimum` role in it; Http404 / PermissionDenied otherwise."""
    project = Project.objects.filter(slug=slug).first()
    if project is None or project.role_of(user) is None:
        raise Http404("No such project.")
    if not project.has_role(user, minimum):
        raise PermissionDenied(f"this needs the {Role(minimum).label} role in {project.name}")
    return project


def job_visible(user, job) -> bool:
    if job.project_id is None:
        return user.is_superuser or job.created_by_id == user.pk
    return job.project.role_of(user) is not None
