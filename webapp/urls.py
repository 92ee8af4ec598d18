"""Top-level URLs: login, admin, the annotations pages and the REST API."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from annotations.core.auth import login_view, password_change_view

urlpatterns = [
    path("accounts/login/", login_view, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", password_change_view, name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page links: send them to the icon the pages link.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=False), name="favicon"),
    path("api/", include("annotations.api_urls")),
    path("", include("annotations.urls")),
]
# No /media/ route, in DEBUG neither: frames, thumbnails, job results and model files are served
# only by the API views that check project membership.
