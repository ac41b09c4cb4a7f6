from django.urls import path

from . import views

app_name = "volunteers"

urlpatterns: list = [
    # --- pages (helper owners in docs/ISSUE17_SPEC.md) ---
    path("volunteers/", views.mine, name="mine"),
    path("volunteers/apply/", views.apply, name="apply"),
    path("volunteers/applications/<int:application_id>/withdraw/", views.withdraw, name="withdraw"),
    path("volunteers/hours/new/", views.hours_new, name="hours_new"),
    path("volunteers/manage/applications/", views.queue, name="queue"),
    path("volunteers/manage/applications/<int:application_id>/", views.decide, name="decide"),
    path("volunteers/manage/hours/", views.hours_queue, name="hours_queue"),
    path("volunteers/manage/hours/<int:hour_id>/", views.hours_decide, name="hours_decide"),
    path("volunteers/manage/reviews/", views.reviews, name="reviews"),
]
