from django.contrib import admin
from django.urls import include, path

from flotilla import views
from flotilla.accounts import views as accounts_views
from flotilla.api import api

#: Signing in with OpenID Connect (ADR 0029): 404 unless configured. mozilla-django-oidc's
#: views under its own route names (its backend reverses the callback's), without the
#: library's logout route: Flotilla's sign-out is the one way out.
oidc_urls = [
    path(
        "authenticate/",
        accounts_views.OidcSignInView.as_view(),
        name="oidc_authentication_init",
    ),
    path(
        "callback/",
        accounts_views.OidcCallbackView.as_view(),
        name="oidc_authentication_callback",
    ),
]

urlpatterns = [
    # The API first: its paths have a prefix of their own, and an API call otherwise tried
    # every page's pattern before its own (0.16 ms of a request's CPU, 0.015 ms first).
    path("api/", api.urls),
    path("", views.home, name="home"),
    path("signin/", views.SignInView.as_view(), name="login"),
    path("signout/", views.sign_out, name="logout"),
    path("about/", views.about, name="about"),
    path("oidc/", include(oidc_urls)),
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
    path("", include("flotilla.interop.urls")),
    path("admin/", admin.site.urls),
]

# Styled error pages; the 500 page needs neither the database nor the session.
handler403 = "flotilla.errors.forbidden"
handler404 = "flotilla.errors.not_found"
handler500 = "flotilla.errors.server_error"
