from django.urls import path

from flotilla.planning import views

app_name = "planning"
urlpatterns = [
    path("c/<slug:slug>/planning", views.plan, name="plan"),
    path("c/<slug:slug>/planning/drafts", views.drafts, name="drafts"),
    path("c/<slug:slug>/planning/draft", views.make_drafts, name="make_drafts"),
    path("plans/drafts/<int:pk>", views.draft, name="draft"),
    path("plans/drafts/<int:pk>/raise", views.raise_draft, name="raise_draft"),
    path("plans/drafts/<int:pk>/dismiss", views.dismiss_draft, name="dismiss_draft"),
]
