"""Mounted at /glossary/ by the project's URLconf (the glossary belongs to the lessons but has its own address)."""

from django.urls import path

from lessons import views

app_name = "glossary"
urlpatterns = [
    path("", views.glossary, name="index"),
]
