from django.urls import path  # noqa: F401 - the pages are added by community/views.py

app_name = "community"

urlpatterns: list = []
