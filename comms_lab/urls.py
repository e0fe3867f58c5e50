import os

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from comms_lab import views
from quizzes import views as quiz_views

urlpatterns = [
    path("", views.home, name="home"),
    path("progress/", quiz_views.progress, name="progress"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("lab/", include("lab.urls")),
    path("lessons/", include("lessons.urls")),
    path("glossary/", include("lessons.glossary_urls")),
    path("quizzes/", include("quizzes.urls")),
    path("accounts/", include("quizzes.account_urls")),
    path("admin/", admin.site.urls),
    path("favicon.ico", RedirectView.as_view(url="/static/favicon.svg", permanent=True)),
]

# `make bench` only (bench/pages.py sets the variable): a minimal view behind the same middleware, the baseline
# the pages are measured against. Never set in production; it is read here, not in settings.
if os.environ.get("COMMS_LAB_BENCH") == "1":
    urlpatterns.append(path("bench/minimal/", views.bench_minimal, name="bench-minimal"))
