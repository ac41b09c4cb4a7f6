from django.urls import path

from . import views

app_name = "groups"

urlpatterns = [
    # families
    path("groups/", views.mine, name="mine"),
    path("groups/<int:group_id>/", views.detail, name="detail"),
    path("groups/<int:group_id>/join/", views.join, name="join"),
    path("groups/<int:group_id>/leave/", views.leave, name="leave"),
    # the group's own sessions
    path("groups/sessions/<int:session_id>/", views.session, name="session"),
    path("groups/sessions/<int:session_id>/book/", views.session_book, name="session_book"),
    path("groups/bookings/<int:booking_id>/cancel/", views.session_cancel, name="session_cancel"),
    path("groups/bookings/<int:booking_id>/attendance/", views.attendance, name="attendance"),
    # facilitators and coordinators
    path("groups/manage/", views.manage_list, name="manage_list"),
    path("groups/manage/new/", views.manage_new, name="manage_new"),
    path("groups/<int:group_id>/manage/", views.manage, name="manage"),
    path("groups/<int:group_id>/manage/edit/", views.manage_edit, name="manage_edit"),
    path("groups/<int:group_id>/manage/add/", views.manage_add, name="manage_add"),
    path(
        "groups/<int:group_id>/manage/sessions/new/",
        views.manage_session_new,
        name="manage_session_new",
    ),
    path("groups/<int:group_id>/manage/dissolve/", views.manage_dissolve, name="manage_dissolve"),
    path(
        "groups/requests/<int:membership_id>/decide/", views.request_decide, name="request_decide"
    ),
    path("groups/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
]
