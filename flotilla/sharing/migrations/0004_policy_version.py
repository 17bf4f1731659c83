from django.db import migrations, models


def first_version(apps, schema_editor):
    apps.get_model("sharing", "PolicyVersion").objects.create(pk=1, version=0)


class Migration(migrations.Migration):
    dependencies = [("sharing", "0003_pending_access")]

    operations = [
        migrations.CreateModel(
            name="PolicyVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(first_version, migrations.RunPython.noop),
    ]
