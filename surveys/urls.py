from django.urls import path

from . import manage_views, views

app_name = "surveys"

urlpatterns = [
    # the family's questionnaires (surveys/views.py)
    path("surveys/", views.my_surveys, name="mine"),
    path("surveys/<int:survey_id>/", views.answer_start, name="start"),
    path("surveys/<int:survey_id>/q/<int:n>/", views.answer_question, name="question"),
    path("surveys/<int:survey_id>/review/", views.answer_review, name="review"),
    path("surveys/<int:survey_id>/done/", views.answer_done, name="done"),
    # -- family pages end --
    # coordinators: templates, surveys, results, comparison, exports (surveys/manage_views.py)
    # -- manage pages end --
]
