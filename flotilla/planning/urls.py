from django.urls import path

from flotilla.planning import views

app_name = "planning"
urlpatterns = [
    path("c/<slug:slug>/planning", views.plan, name="plan"),
]
