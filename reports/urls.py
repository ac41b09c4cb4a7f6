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
    # 品牌项目: public, no login (docs/BRANDS.md)
    path("brands/", views.brands, name="brands"),
    path("brands/<int:brand_id>/", views.brand, name="brand"),
    path("brands/<int:brand_id>/logo/", views.brand_logo, name="brand_logo"),
]
