"""Who may see and change what. Outsiders get 404 (a project they are not in does not exist for
them); members without the needed role get 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotations.models import Membership, Project, Role


def project_for(user, slug: str, minimum: str = Role.ANNOTATOR) -> Project:
    """The project if `user` has at least the `minimum` role in it; Http404 / PermissionDenied otherwise.

    One query: the caller's role comes with the project and is kept where Project.role_of looks first.
    Every API request starts here, so it is written as one raw statement: the ORM spent about 1.5 ms of
    CPU compiling the role subquery, several times what PostgreSQL needs to answer it.
    """
    member = user.is_authenticated and not user.is_superuser
    project = next(iter(Project.objects.raw(_PROJECT_WITH_ROLE if member else _PROJECT,
                                            [user.pk, slug] if member else [slug])), None)
    if project is not None and member:
        roles = getattr(user, "_project_roles", None)
        if roles is None:
            roles = user._project_roles = {}
        roles[project.pk] = project.caller_role  # type: ignore[attr-defined]
    if project is None or project.role_of(user) is None:
        raise Http404("No such project.")
    if not project.has_role(user, minimum):
        raise PermissionDenied(f"this needs the {Role(minimum).label} role in {project.name}")
    return project


_PROJECT = f"SELECT * FROM {Project._meta.db_table} WHERE slug = %s"
# The caller's first membership row (as role_of reads it) beside the project's columns.
_PROJECT_WITH_ROLE = (
    f"SELECT p.*, (SELECT m.role FROM {Membership._meta.db_table} m WHERE m.project_id = p.id AND m.user_id = %s"
    f" ORDER BY m.id LIMIT 1) AS caller_role FROM {Project._meta.db_table} p WHERE p.slug = %s")


def job_visible(user, job) -> bool:
    if job.project_id is None:
        return user.is_superuser or job.created_by_id == user.pk
    return job.project.role_of(user) is not None
