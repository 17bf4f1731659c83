from django.contrib import admin
from django.urls import include, path

from flotilla import views
from flotilla.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", views.SignInView.as_view(), name="login"),
    path("signout/", views.sign_out, name="logout"),
    path("about/", views.about, name="about"),
    path("", include("flotilla.collaboratives.urls")),
    path("", include("flotilla.picture.urls")),
    path("", include("flotilla.reporting.urls")),
    path("", include("flotilla.authz.urls")),
    path("", include("flotilla.sharing.urls")),
    path("", include("flotilla.accounts.urls")),
    path("", include("flotilla.notifications.urls")),
    path("", include("flotilla.jobs.urls")),
    path("", include("flotilla.exchange.urls")),
    path("", include("flotilla.alerts.urls")),
    path("", include("flotilla.escalation.urls")),
    path("", include("flotilla.planning.urls")),
    path("", include("flotilla.directory.urls")),
    path("", include("flotilla.coordination.urls")),
    path("api/", api.urls),
    path("admin/", admin.site.urls),
]

# Styled error pages; the 500 page needs neither the database nor the session.
handler403 = "flotilla.errors.forbidden"
handler404 = "flotilla.errors.not_found"
handler500 = "flotilla.errors.server_error"
