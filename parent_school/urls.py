from django.urls import path  # noqa: F401

app_name = "parent_school"

urlpatterns: list = []
