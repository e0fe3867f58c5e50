from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("lab", "0002_run_topology")]

    operations = [
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
                    ("interrupted", "Interrupted"),
                ],
                default="queued",
                max_length=12,
            ),
        ),
    ]
