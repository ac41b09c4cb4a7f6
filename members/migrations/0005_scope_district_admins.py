"""Existing district administrators keep their reach on upgrade.

Before 0004 a district administrator saw every unit. A portal with one district
gives them that district; a portal with several (or none) makes them city
administrators, who see everything, as before. A city administrator can then
narrow them to a district in admin (docs/OPERATIONS.md, "Upgrade").
"""

from django.db import migrations


def scope_district_admins(apps, schema_editor):
    Region = apps.get_model("members", "Region")
    RoleAssignment = apps.get_model("members", "RoleAssignment")
    districts = list(Region.objects.filter(kind="district").values_list("pk", flat=True)[:2])
    admins = RoleAssignment.objects.filter(role="district_admin", region__isnull=True)
    if len(districts) == 1:
        admins.update(region_id=districts[0])
    else:
        admins.update(role="city_admin")


def unscope_district_admins(apps, schema_editor):
    RoleAssignment = apps.get_model("members", "RoleAssignment")
    RoleAssignment.objects.filter(role="city_admin").update(role="district_admin")
    RoleAssignment.objects.filter(role="district_admin").update(region=None)


class Migration(migrations.Migration):
    dependencies = [("members", "0004_role_region")]

    operations = [migrations.RunPython(scope_district_admins, unscope_district_admins)]
