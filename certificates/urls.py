from django.urls import path  # noqa: F401 (the sections below add the routes)

app_name = "certificates"

urlpatterns: list = []

# SECTION credentials (helper A): /.well-known/…, status lists
from . import credential_views  # noqa: E402

urlpatterns += [
    path(".well-known/did.json", credential_views.did_json, name="did"),
    path(
        "certificates/status/<int:list_number>.json",
        credential_views.status_list,
        name="status_list",
    ),
]
# END SECTION credentials
# SECTION holder (helper D): 我的证书, downloads, transcript, public verification
# END SECTION holder
# SECTION staff (helper C): coordinators' pages
from . import staff_views  # noqa: E402

urlpatterns += [
    path("certificates/manage/", staff_views.manage, name="manage"),
    path("certificates/manage/batches/", staff_views.batch_start, name="batch_start"),
    path("certificates/manage/batches/<int:batch_id>/", staff_views.batch, name="batch"),
    path("certificates/manage/<int:certificate_id>/revoke/", staff_views.revoke, name="revoke"),
    path("certificates/manage/<int:certificate_id>/reissue/", staff_views.reissue, name="reissue"),
]
# END SECTION staff
