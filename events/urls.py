from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("events/", views.event_list, name="list"),
    path("events/<int:pk>/", views.event_detail, name="detail"),
    path("events/<int:pk>/register/", views.event_register, name="register"),
    path("events/<int:pk>/unregister/", views.event_unregister, name="unregister"),
    path("events/<int:pk>/event.ics", views.event_ics, name="ics"),
    path("events/<int:pk>/checkin/<str:code>/", views.event_self_check_in, name="self_checkin"),
    path("events/manage/", views.manage_list, name="manage_list"),
    path("events/manage/new/", views.manage_create, name="manage_create"),
    path("events/manage/<int:pk>/", views.manage_detail, name="manage_detail"),
    path("events/manage/<int:pk>/edit/", views.manage_edit, name="manage_edit"),
    path("events/manage/<int:pk>/cancel/", views.manage_cancel, name="manage_cancel"),
    path("events/manage/<int:pk>/checkin/", views.manage_check_in, name="manage_checkin"),
    path("events/manage/<int:pk>/reveal/", views.manage_phone_reveal, name="manage_reveal"),
    path("events/manage/<int:pk>/qr/", views.manage_qr, name="manage_qr"),
    path("events/manage/<int:pk>/ticket/", views.manage_ticket, name="manage_ticket"),
    path("events/manage/<int:pk>/deliveries/", views.manage_deliveries, name="manage_deliveries"),
    path("calendar/", views.calendar_page, name="calendar"),
    path("calendar/revoke/", views.calendar_revoke, name="calendar_revoke"),
    path("calendar/<str:token>.ics", views.calendar_feed, name="calendar_feed"),
]
