from django.urls import path

from lessons import views

app_name = "lessons"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/reading/", views.reading, name="reading"),
    path("<slug:slug>/complete/", views.complete, name="complete"),
]
