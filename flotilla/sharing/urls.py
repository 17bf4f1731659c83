from django.urls import path

from flotilla.sharing import views

app_name = "sharing"
urlpatterns = [
    path("o/<str:code>/access", views.access_record, name="access_record"),
    path("o/<str:code>/sharing", views.who_can_see, name="who_can_see"),
]
