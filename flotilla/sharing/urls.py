from django.urls import path

from flotilla.sharing import views

app_name = "sharing"
urlpatterns = [
    path("o/<str:code>/access", views.access_record, name="access_record"),
    path("o/<str:code>/sharing", views.who_can_see, name="who_can_see"),
    path("o/<str:code>/sharing/new", views.grant_new, name="grant_new"),
    path("o/<str:code>/sharing/<int:grant_id>", views.grant_edit, name="grant_edit"),
    path("o/<str:code>/sharing/<int:grant_id>/revoke", views.grant_revoke, name="grant_revoke"),
]
