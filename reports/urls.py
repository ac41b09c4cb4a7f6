from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.overview, name="overview"),
    path("reports/units/<int:unit_id>/", views.unit_dashboard, name="unit"),
    path("reports/parent-schools/<int:school_id>/", views.school_dashboard, name="school"),
    path("reports/recompute/", views.recompute, name="recompute"),
    path("reports/export/", views.export, name="export"),
    path("reports/jobs/<int:job_id>/", views.job_detail, name="job"),
    path("reports/jobs/<int:job_id>/download/", views.job_download, name="job_download"),
]
