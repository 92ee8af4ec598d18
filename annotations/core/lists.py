"""One project's rows over REST as DRF generic views: the caller's role checked first (project_for), then
for lists the feature's FilterSet (core/filtering.py) and a bounded page (core/pagination.py), unless a
list sets pagination_class to None."""

from __future__ import annotations

from functools import cached_property

from rest_framework import generics
from rest_framework.pagination import BasePagination

from annotations.core.filtering import FilterBackend
from annotations.core.pagination import BoundedPagination
from annotations.core.permissions import project_for
from annotations.models import Project, Role


class ProjectScopedView(generics.GenericAPIView):
    """Under projects/<slug>/: subclasses set `queryset` (the model, for the schema; never served as it is)
    and `serializer_class`, and implement `project_queryset`."""

    minimum_role: str = Role.ANNOTATOR

    @cached_property
    def project(self) -> Project:
        return project_for(self.request.user, self.kwargs["slug"], self.minimum_role)

    def project_queryset(self, project: Project):
        raise NotImplementedError

    def get_queryset(self):
        return self.project_queryset(self.project)


class ProjectListView(ProjectScopedView, generics.ListAPIView):
    """A list of the project's rows; subclasses with documented filters set `filterset_class`."""

    pagination_class: type[BasePagination] | None = BoundedPagination
    filter_backends = [FilterBackend]


class ProjectObjectView(ProjectScopedView, generics.RetrieveAPIView):
    """One of the project's rows: 404 when it is not one of them."""
