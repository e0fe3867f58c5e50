"""Runs keep the topology document they executed; runs saved before that get their experiment's document."""

from django.db import migrations, models


def attach_documents(apps, schema_editor):
    from lab.model.catalog import EXPERIMENTS

    Run = apps.get_model("lab", "Run")
    for slug, experiment in EXPERIMENTS.items():
        Run.objects.filter(experiment=slug, topology__isnull=True).update(topology=experiment.topology.document)


class Migration(migrations.Migration):
    dependencies = [("lab", "0001_initial")]

    operations = [
        migrations.AddField(model_name="run", name="topology", field=models.JSONField(blank=True, null=True)),
        migrations.AlterField(
            model_name="run",
            name="status",
            field=models.CharField(
                choices=[
                    ("queued", "Queued"),
                    ("running", "Running"),
                    ("closing", "Closing"),
                    ("finished", "Finished"),
                    ("failed", "Failed"),
                ],
                default="queued",
                max_length=10,
            ),
        ),
        migrations.RunPython(attach_documents, migrations.RunPython.noop),
    ]
