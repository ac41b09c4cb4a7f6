from django.urls import path  # noqa: F401 (the sections below add the routes)

app_name = "certificates"

urlpatterns: list = []

# SECTION credentials (helper A): /.well-known/…, status lists
# END SECTION credentials
# SECTION holder (helper D): 我的证书, downloads, transcript, public verification
# END SECTION holder
# SECTION staff (helper C): coordinators' pages
# END SECTION staff
