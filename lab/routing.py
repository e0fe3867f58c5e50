from django.urls import path

from lab.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/lab/runs/<str:run_id>/", RunConsumer.as_asgi(), name="run-ws"),
]
