from django.urls import path

from flotilla.escalation import views

app_name = "escalation"
urlpatterns = [
    path("c/<slug:slug>/escalation", views.collaborative, name="collaborative"),
    path("c/<slug:slug>/escalation/declare", views.declare, name="declare"),
    path("c/<slug:slug>/escalation/profiles", views.profiles, name="profiles"),
    path("escalation/profiles/<int:pk>", views.profile_text, name="profile"),
    path("o/<str:code>/escalation", views.organisation, name="organisation"),
    path("escalation/levels/<int:pk>/note", views.note, name="note"),
]
