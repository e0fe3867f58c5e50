import os

from django.urls import path

from lab.consumers import RunConsumer

websocket_urlpatterns = [
    path("ws/lab/runs/<str:run_id>/", RunConsumer.as_asgi(), name="run-ws"),
]

# `make bench` only (bench/events.py sets the variable): the bare relay it measures the lab's socket against.
if os.environ.get("COMMS_LAB_BENCH") == "1":
    from comms_lab.bench_relay import BareRelay

    websocket_urlpatterns.append(path("ws/bench/relay/", BareRelay.as_asgi(), name="bench-relay"))
