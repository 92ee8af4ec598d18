"""Who may see and change what. Outsiders get 404 (a project they are not in does not exist for
them); members without the needed role get 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import Http404

from annotations.models import Membership, Project, Role


def project_for(user, slug: str, minimum: str = Role.ANNOTATOR) -> Project:
    """The project if `user` has at least the `minimum` role in it; Http404 / PermissionDenied otherwise.

    One query: the caller's role comes with the project and is kept where Project.role_of looks first.
    """
    projects = Project.objects.filter(slug=slug)
    if user.is_authenticated and not user.is_superuser:
        projects = projects.annotate(caller_role=Subquery(
            Membership.objects.filter(project=OuterRef("pk"), user=user).order_by("id").values("role")[:1]))
    project = projects.first()
    if project is not None and hasattr(project, "caller_role"):
        roles = getattr(user, "_project_roles", None)
        if roles is None:
            roles = user._project_roles = {}
        roles[project.pk] = project.caller_role
    if project is None or project.role_of(user) is None:
        raise Http404("No such project.")
    if not project.has_role(user, minimum):
        raise PermissionDenied(f"this needs the {Role(minimum).label} role in {project.name}")
    return project


def job_visible(user, job) -> bool:
    if job.project_id is None:
        return user.is_superuser or job.created_by_id == user.pk
    return job.project.role_of(user) is not None
