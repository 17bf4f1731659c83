from django.urls import path

from flotilla.accounts import views

app_name = "accounts"
urlpatterns = [
    path("o/<str:code>/people", views.people, name="people"),
    path("o/<str:code>/people/<int:pk>/role", views.change_role, name="change_role"),
    path("o/<str:code>/people/<int:pk>/remove", views.remove, name="remove"),
    path("o/<str:code>/people/invitations/<int:pk>/withdraw", views.withdraw, name="withdraw"),
    path("join/<str:secret>", views.accept, name="accept"),
    path("request-access/", views.find_organisation, name="find_organisation"),
    path("request-access/<str:code>", views.request_access, name="request_access"),
    path("access-requests/<int:pk>", views.decide, name="decide"),
    path("account/", views.account, name="account"),
    path("account/second-factor/", views.second_factor, name="second_factor"),
    path(
        "account/second-factor/set-up",
        views.set_up_authenticator,
        name="set_up_authenticator",
    ),
    path(
        "account/second-factor/recovery-codes",
        views.new_recovery_codes,
        name="new_recovery_codes",
    ),
    path("account/second-factor/remove", views.remove_second_factor, name="remove_second_factor"),
    path("account/linked/<int:pk>/remove", views.unlink, name="unlink"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]
