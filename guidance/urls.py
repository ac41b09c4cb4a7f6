from django.urls import path

from . import views

app_name = "guidance"

urlpatterns: list = [
    # --- pages ---
    path("guidance/", views.home, name="home"),
    path("guidance/stations/<int:station_id>/", views.station, name="station"),
    path("guidance/stations/<int:station_id>/areas/<str:area>/", views.area, name="area"),
    path("guidance/mentors/<int:mentor_id>/", views.mentor, name="mentor"),
    path("guidance/slots/<int:slot_id>/book/", views.book, name="book"),
    path("guidance/mine/", views.mine, name="mine"),
    path("guidance/booked/<int:offering_id>/", views.booked, name="booked"),
    path("guidance/consultations/<int:consultation_id>/", views.consultation, name="consultation"),
    path("guidance/consultations/<int:consultation_id>/cancel/", views.cancel, name="cancel"),
    path("guidance/consultations/<int:consultation_id>/mark/", views.mark, name="mark"),
    path("guidance/consultations/<int:consultation_id>/refer/", views.refer, name="refer"),
    path(
        "guidance/consultations/<int:consultation_id>/limits/",
        views.limit_lift,
        name="limit_lift",
    ),
    path("guidance/desk/", views.desk, name="desk"),
    path("guidance/desk/slots/new/", views.slot_new, name="slot_new"),
    path("guidance/desk/patterns/new/", views.pattern_new, name="pattern_new"),
    path("guidance/slots/<int:slot_id>/cancel/", views.slot_cancel, name="slot_cancel"),
    # --- notes ---
    path(
        "guidance/consultations/<int:consultation_id>/notes/",
        views.note_write,
        name="note_write",
    ),
    path(
        "guidance/consultations/<int:consultation_id>/followups/new/",
        views.followup_new,
        name="followup_new",
    ),
    path("guidance/followups/<int:followup_id>/done/", views.followup_done, name="followup_done"),
    path(
        "guidance/followups/<int:followup_id>/cancel/",
        views.followup_cancel,
        name="followup_cancel",
    ),
    path("guidance/stations/<int:station_id>/dashboard/", views.dashboard, name="dashboard"),
]
