"""URLs of the dataset area: dataset jobs from the project page and REST, split versions, split COCO files."""

from django.urls import path

from annotations.datasets import api, views

urlpatterns = [
    path("p/<slug:slug>/jobs/<str:kind>/", views.start_project_job, name="start-job"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/jobs/", api.ProjectJobs.as_view(), name="api-project-jobs"),
    path("projects/<slug:slug>/splits/", api.splits, name="api-splits"),
    path("projects/<slug:slug>/splits/<str:subset>/coco.json", api.split_coco, name="api-split-coco"),
]
