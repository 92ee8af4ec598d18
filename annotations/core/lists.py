"""The REST lists of one project's rows as DRF generic views: the caller's role checked first
(project_for), then the feature's FilterSet (core/filtering.py), then a bounded page (core/pagination.py) unless a
subclass sets pagination_class to None."""

from __future__ import annotations

from functools import cached_property

from rest_framework import generics
from rest_framework.pagination import BasePagination

from annotations.core.filtering import FilterBackend
from annotations.core.pagination import BoundedPagination
from annotations.core.permissions import project_for
from annotations.models import Project, Role


class ProjectListView(generics.ListAPIView):
    """GET projects/<slug>/...: subclasses set `queryset` (the model, for the schema; never served as it is),
    `filterset_class` and `serializer_class`, and implement `project_queryset`."""

    pagination_class: type[BasePagination] | None = BoundedPagination
    filter_backends = [FilterBackend]
    minimum_role: str = Role.ANNOTATOR

    @cached_property
    def project(self) -> Project:
        return project_for(self.request.user, self.kwargs["slug"], self.minimum_role)

    def project_queryset(self, project: Project):
        raise NotImplementedError

    def get_queryset(self):
        return self.project_queryset(self.project)
