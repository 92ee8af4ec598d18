"""URLs of the active-learning loop: the models page and its forms; REST of models, learning jobs and settings."""

from django.urls import path

from annotations.learning import api, views

urlpatterns = [
    path("p/<slug:slug>/models/", views.models_page, name="models-page"),
    path("p/<slug:slug>/models/upload/", views.upload_model, name="model-upload"),
    path("p/<slug:slug>/models/settings/", views.save_settings, name="learning-settings"),
    path("p/<slug:slug>/models/<int:model_id>/activate/", views.activate_model, name="model-activate"),
    path("p/<slug:slug>/models/jobs/<int:job_id>/cancel/", views.cancel_job, name="learning-job-cancel"),
    path("p/<slug:slug>/models/<str:kind>/", views.start_learning, name="learning-start"),
]

api_urlpatterns = [
    path("projects/<slug:slug>/models/", api.ModelVersionList.as_view(), name="api-models"),
    path("projects/<slug:slug>/models/upload/", api.model_upload, name="api-model-upload"),
    path("projects/<slug:slug>/models/<int:model_id>/", api.model_detail, name="api-model"),
    path("projects/<slug:slug>/models/<int:model_id>/activate/", api.model_activate, name="api-model-activate"),
    path("projects/<slug:slug>/models/<int:model_id>/files/<str:field>/", api.model_file, name="api-model-file"),
    path("projects/<slug:slug>/learning/settings/", api.learning_settings, name="api-learning-settings"),
    path("projects/<slug:slug>/learning/<str:kind>/", api.learning_job, name="api-learning-job"),
    path("projects/<slug:slug>/frames/<int:frame_id>/predictions/", api.frame_predictions,
         name="api-frame-predictions"),
]
