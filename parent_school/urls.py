from django.urls import path

from . import views

app_name = "parent_school"

urlpatterns = [
    path("parent-schools/", views.parent_school_list, name="list"),
    path("parent-schools/<int:pk>/", views.parent_school_detail, name="detail"),
]
