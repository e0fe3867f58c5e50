from django.urls import path

from lab import api, views

app_name = "lab"
urlpatterns = [
    path("", views.index, name="index"),
    path("api/experiments", api.experiments, name="api-experiments"),
    path("api/topology-schema", api.topology_schema, name="api-topology-schema"),
    path("api/events-contract", api.events_contract, name="api-events-contract"),
    path("api/runs", api.runs, name="api-runs"),
    path("api/predictions", api.prediction_list, name="api-predictions"),
    path("api/runs/<str:run_id>", api.run_detail, name="api-run"),
    path("api/runs/<str:run_id>/events", api.run_events, name="api-run-events"),
    path("api/runs/<str:run_id>/state", api.run_state_at, name="api-run-state"),
    path("api/runs/<str:run_id>/toggles", api.run_toggles, name="api-run-toggles"),
    path("api/runs/<str:run_id>/stop", api.run_stop, name="api-run-stop"),
    path("api/runs/<str:run_id>/dead-letters", api.run_dead_letters, name="api-run-dead-letters"),
    path("runs/<str:run_id>/", views.run_page, name="run"),
    path("<slug:slug>/", views.experiment_page, name="experiment"),
]
