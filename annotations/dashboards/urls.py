"""URLs of the dashboards: the board pages and every chart's JSON or CSV."""

from django.urls import path

from annotations.dashboards import api, views

urlpatterns = [
    path("p/<slug:slug>/dashboards/", views.dashboard, name="dashboards"),
    path("p/<slug:slug>/dashboards/<str:board>/", views.dashboard, name="dashboard"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/dashboards/", api.dashboard_index, name="api-dashboards"),
    path("projects/<slug:slug>/dashboards/<str:board>/<str:chart>.<str:fmt>", api.dashboard_chart,
         name="api-dashboard-chart"),
]
