from django.urls import path

from flotilla.directory import views

app_name = "directory"
urlpatterns = [
    path("o/<str:code>/on-call", views.organisation, name="organisation"),
    path("o/<str:code>/on-call/<int:pk>", views.change, name="change"),
    path("o/<str:code>/on-call/<int:pk>/end", views.end, name="end"),
    path("c/<slug:slug>/on-call", views.collaborative, name="collaborative"),
    path("c/<slug:slug>/on-call.csv", views.collaborative_csv, name="collaborative_csv"),
]
