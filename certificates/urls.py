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
from . import views  # noqa: E402

urlpatterns += [
    path("me/certificates/", views.mine, name="mine"),
    path("me/certificates/<int:certificate_id>/pdf/", views.pdf, name="pdf"),
    path(
        "me/certificates/<int:certificate_id>/credential.json", views.credential, name="credential"
    ),
    path("me/certificates/preference/", views.preference, name="preference"),
    path("me/certificates/transcript/", views.transcript, name="transcript"),
    path(
        "me/certificates/<int:certificate_id>/transcript.csv",
        views.transcript_csv,
        name="transcript_csv",
    ),
    path(
        "me/certificates/<int:certificate_id>/transcript.json",
        views.transcript_json,
        name="transcript_json",
    ),
    # The address printed on every certificate: it never changes.
    path("v/", views.verify_home, name="verify_home"),
    path("v/<str:code>/", views.verify, name="verify"),
    path("v/<str:code>/credential.json", views.verify_credential, name="verify_credential"),
]
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
