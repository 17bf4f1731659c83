from django.urls import path

from flotilla.notifications import views

app_name = "notifications"
urlpatterns = [
    path("inbox", views.inbox, name="inbox"),
    path("inbox/read", views.read, name="read"),
    path("inbox/clear", views.clear, name="clear"),
    path("inbox/settings", views.preferences, name="preferences"),
    path("inbox/sent", views.sent, name="sent"),
    path("o/<str:code>/webhooks", views.webhooks, name="webhooks"),
    path("o/<str:code>/webhooks/<int:pk>/remove", views.webhook_remove, name="webhook_remove"),
    path("o/<str:code>/webhooks/<int:pk>/test", views.webhook_test, name="webhook_test"),
    path("o/<str:code>/webhooks/deliveries", views.webhook_deliveries, name="webhook_deliveries"),
    path("o/<str:code>/webhooks/deliveries/<int:pk>/replay", views.replay, name="replay"),
]
