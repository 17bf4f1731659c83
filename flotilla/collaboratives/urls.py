from django.urls import path

from flotilla.collaboratives import views

app_name = "collaboratives"
urlpatterns = [
    path("collaboratives/", views.collaboratives, name="collaboratives"),
    path("collaboratives/new", views.collaborative_new, name="collaborative_new"),
    path("c/<slug:slug>/members", views.collaborative_members, name="collaborative_members"),
    path("c/<slug:slug>/invite", views.invite, name="invite"),
    path("c/<slug:slug>/leave", views.leave, name="leave"),
    path("c/<slug:slug>/leave/<str:code>", views.leave_confirm, name="leave_confirm"),
    path("c/<slug:slug>/settings", views.collaborative_settings, name="collaborative_settings"),
    path("c/<slug:slug>/surge", views.surge, name="surge"),
    path("c/<slug:slug>/surge/settings", views.surge_settings, name="surge_settings"),
    path("c/<slug:slug>/surge/switch", views.surge_switch, name="surge_switch"),
    path(
        "c/<slug:slug>/invitations/<int:pk>/first-admin-link",
        views.first_admin_link,
        name="first_admin_link",
    ),
    path("invitations/<int:pk>/respond", views.respond, name="respond"),
]
