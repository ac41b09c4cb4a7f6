from django.urls import path  # noqa: F401 - the pages are added by groups/views.py

app_name = "groups"

urlpatterns: list = []
