from django.urls import path

from . import views

app_name = "evaluation"

urlpatterns = [
    path("evaluation/units/<int:unit_id>/", views.unit_page, name="unit"),
    path("evaluation/units/<int:unit_id>/feedback/", views.feedback_write, name="feedback_write"),
    path(
        "evaluation/feedback/<int:feedback_id>/acknowledge/",
        views.feedback_acknowledge,
        name="feedback_acknowledge",
    ),
    path("evaluation/units/<int:unit_id>/actions/", views.action_add, name="action_add"),
    path("evaluation/actions/<int:action_id>/update/", views.action_update, name="action_update"),
    path("evaluation/targets/", views.targets, name="targets"),
    path("evaluation/targets/default/", views.targets_default, name="targets_default"),
]
