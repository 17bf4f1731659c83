from django.urls import path

from flotilla.reporting import views

app_name = "reporting"
urlpatterns = [
    path("report/", views.start, name="start"),
    path("o/<str:code>/report", views.form, name="form"),
    path("o/<str:code>/report/no-change", views.no_change, name="no_change"),
    path("o/<str:code>/import", views.upload, name="upload"),
]
