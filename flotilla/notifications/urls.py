from django.urls import path

from flotilla.notifications import views

app_name = "notifications"
urlpatterns = [
    path("inbox", views.inbox, name="inbox"),
    path("inbox/read", views.read, name="read"),
    path("inbox/clear", views.clear, name="clear"),
]
