from django.urls import path

from . import views

app_name = "courses"

urlpatterns = [
    path("courses/", views.catalogue, name="catalogue"),
    path("courses/<int:pk>/", views.course_detail, name="detail"),
    path("courses/sessions/", views.staff_sessions, name="staff_sessions"),
    path("courses/sessions/<int:pk>/book/", views.session_book, name="book"),
    path("courses/sessions/<int:pk>/roster/", views.session_roster, name="roster"),
    path(
        "courses/sessions/<int:pk>/roster/reveal/",
        views.session_phone_reveal,
        name="roster_reveal",
    ),
    path("courses/sessions/<int:pk>/cancel/", views.session_cancel, name="session_cancel"),
    path(
        "courses/sessions/<int:pk>/checkin-code/", views.session_checkin_code, name="checkin_code"
    ),
    path("courses/lessons/<int:pk>/", views.lesson_detail, name="lesson"),
    path("courses/lessons/<int:pk>/progress/", views.lesson_progress, name="lesson_progress"),
    path("courses/lessons/", views.lesson_list, name="lessons"),
    path("courses/lessons/<int:pk>/video/", views.lesson_video, name="lesson_video"),
    path("courses/lessons/<int:pk>/poster/", views.lesson_poster, name="lesson_poster"),
    # /me/ itself (我的学习, courses and events together) is portal:my_learning.
    path("me/bookings/<int:pk>/cancel/", views.booking_cancel, name="cancel"),
    path("checkin/<str:token>/", views.checkin, name="checkin"),
]
