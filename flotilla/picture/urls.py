from django.urls import path

from flotilla.picture import views

app_name = "picture"
urlpatterns = [
    path("c/<slug:slug>/", views.dashboard, name="dashboard"),
    path("c/<slug:slug>/table", views.dashboard_table, name="dashboard_table"),
    path("c/<slug:slug>/export.csv", views.dashboard_csv, name="dashboard_csv"),
    path("o/<str:code>/", views.organisation, name="organisation"),
    path("o/<str:code>/s/<str:site_code>/", views.site, name="site"),
]
