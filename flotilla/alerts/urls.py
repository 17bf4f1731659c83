from django.urls import path

from flotilla.alerts import views

app_name = "alerts"
urlpatterns = [
    path("alerts/", views.mine, name="mine"),
    # Notifications link to an alert's page: keep this path.
    path("alerts/<int:pk>", views.alert_page, name="alert"),
    path("alerts/<int:pk>/acknowledge", views.acknowledge, name="acknowledge"),
    path("alerts/rules", views.personal_rules, name="personal_rules"),
    path("alerts/rules/<int:pk>/end", views.end_rule, name="end_rule"),
    path("alerts/rules/<int:pk>/subscription", views.subscription, name="subscription"),
    path("c/<slug:slug>/alerts/", views.collaborative_rules, name="collaborative_rules"),
]
