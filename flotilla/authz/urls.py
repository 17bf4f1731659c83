from django.urls import path

from flotilla.authz import views

app_name = "authz"
urlpatterns = [
    path("o/<str:code>/tokens", views.tokens, name="tokens"),
    path("o/<str:code>/tokens/<int:pk>/revoke", views.revoke, name="revoke"),
]
