from django.urls import path

from . import views

app_name = "guidance"

urlpatterns: list = [
    # --- SECTION pages (helper 1) ---
    # --- SECTION notes (helper 2) ---
]
