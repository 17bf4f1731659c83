from django.urls import path

from flotilla.jobs import views

app_name = "jobs"
urlpatterns = [
    path("platform/jobs", views.overview, name="overview"),
]
