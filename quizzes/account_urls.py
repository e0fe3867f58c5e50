"""/accounts/: log-in (rate limited), sign-up, log-out and password change."""

from django.contrib.auth import views as auth_views
from django.urls import path

from quizzes import accounts

urlpatterns = [
    path("login/", accounts.RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", accounts.signup, name="signup"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
