"""/accounts/: log-in (rate limited), sign-up, log-out, password change and reset by e-mail, and the learner's
own data (download, delete)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from quizzes import accounts

urlpatterns = [
    path("", accounts.account, name="account"),
    path("login/", accounts.RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", accounts.signup, name="signup"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password_reset/", accounts.RateLimitedPasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("data.json", accounts.download_data, name="account_data"),
    path("delete/", accounts.delete_account, name="account_delete"),
]
