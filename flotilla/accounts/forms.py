"""Forms for people getting in. Each field says in words what is wrong with it."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm

from flotilla.accounts.actions import validate_new_account
from flotilla.authz.models import Role

ROLE_CHOICES = Role.choices


class InvitePersonForm(forms.Form):
    who = forms.CharField(
        max_length=254,
        error_messages={"required": "Enter the person's username or email address"},
    )
    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        error_messages={
            "required": "Choose the role they will have",
            "invalid_choice": "Choose one of the roles listed",
        },
    )


class ChangeRoleForm(forms.Form):
    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        error_messages={
            "required": "Choose a role",
            "invalid_choice": "Choose one of the roles listed",
        },
    )


class NewAccountForm(forms.Form):
    """A person who opened an invitation chooses a username and a password."""

    full_name = forms.CharField(max_length=150, required=False)
    #: Asked only when the invitation was not sent to an address (a first admin's link).
    email = forms.EmailField(
        max_length=254,
        required=False,
        error_messages={"invalid": "Enter an email address in the right format, like name@nhs.net"},
    )
    username = forms.CharField(
        max_length=150,
        error_messages={
            "required": "Choose a username",
            "max_length": "A username can be at most 150 characters",
        },
    )
    password1 = forms.CharField(
        strip=False, error_messages={"required": "Choose a password"}, widget=forms.PasswordInput
    )
    password2 = forms.CharField(
        strip=False,
        error_messages={"required": "Enter the password again"},
        widget=forms.PasswordInput,
    )

    def __init__(self, *args, email: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        data = super().clean()
        username, p1, p2 = data.get("username"), data.get("password1"), data.get("password2")
        if username is None or p1 is None:
            return data
        problems = validate_new_account(username=username, password=p1, email=self.email)
        if "username" in problems:
            self.add_error("username", problems["username"])
        if "password" in problems:
            self.add_error("password1", problems["password"])
        elif p2 is not None and p1 != p2:
            self.add_error("password2", "The two passwords are different. Enter the same one twice")
        return data


class OrganisationSearchForm(forms.Form):
    q = forms.CharField(
        max_length=100,
        error_messages={"required": "Enter your organisation's name or ODS code"},
    )


class AccessRequestForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        error_messages={
            "required": "Enter your name",
            "max_length": "Your name can be at most 200 characters",
        },
    )
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Enter your email address",
            "invalid": "Enter an email address in the right format, like name@nhs.net",
        },
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea,
        error_messages={
            "required": "Say in a sentence why you need access",
            "max_length": "Keep the reason to 500 characters or fewer",
        },
    )


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve"), ("decline", "Decline")],
        error_messages={
            "required": "Choose whether to approve or decline",
            "invalid_choice": "Choose whether to approve or decline",
        },
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)
    decline_reason = forms.CharField(max_length=1000, required=False, widget=forms.Textarea)

    def __init__(self, *args, role_fixed: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role_fixed = role_fixed

    def clean(self):
        data = super().clean()
        decision = data.get("decision")
        if decision == "approve" and not self.role_fixed and not data.get("role"):
            self.add_error("role", "Choose the role they will have")
        if decision == "decline" and not (data.get("decline_reason") or "").strip():
            self.add_error("decline_reason", "Say why, in a sentence: the person is sent it")
        return data


class ResetRequestForm(PasswordResetForm):
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Enter the email address of your account",
            "invalid": "Enter an email address in the right format, like name@nhs.net",
        },
    )


class ResetPasswordForm(SetPasswordForm):
    """Django's own, with the errors in our words and on the field they belong to."""

    error_messages = {
        **SetPasswordForm.error_messages,
        "password_mismatch": "The two passwords are different. Enter the same one twice",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["new_password1"].error_messages["required"] = "Choose a new password"
        self.fields["new_password2"].error_messages["required"] = "Enter the new password again"

    def clean(self):
        # Django puts the validators' complaints on the second box; they are about the first.
        self.validate_passwords("new_password1", "new_password2")
        if "new_password2" not in self.errors:
            self.validate_password_for_user(self.user, "new_password1")
        return forms.Form.clean(self)

    def save(self, commit: bool = True):
        from flotilla.accounts.actions import reset_password

        return reset_password(user=self.user, password=self.cleaned_data["new_password1"])
