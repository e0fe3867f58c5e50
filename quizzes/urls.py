from django.urls import path

from quizzes import views

app_name = "quizzes"
urlpatterns = [
    path("", views.index, name="index"),
    path("review/", views.start_review, name="review"),
    path("attempts/<str:attempt_id>/", views.attempt_page, name="attempt"),
    path("attempts/<str:attempt_id>/answer", views.answer, name="answer"),
    path("attempts/<str:attempt_id>/next", views.next_question, name="next"),
    path("attempts/<str:attempt_id>/finish", views.finish, name="finish"),
    path("attempts/<str:attempt_id>/retry", views.retry, name="retry"),
    path("<slug:slug>/", views.quiz, name="quiz"),
    path("<slug:slug>/start", views.start, name="start"),
]
