from django.urls import path

from .core import api

urlpatterns = [path("api/v1/", api.urls)]
