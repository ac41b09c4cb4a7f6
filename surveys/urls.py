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
    path("surveys/manage/", manage_views.index, name="manage_index"),
    path("surveys/manage/new/", manage_views.survey_new, name="manage_survey_new"),
    path("surveys/manage/deploy/", manage_views.deploy, name="manage_deploy"),
    path("surveys/manage/compare/", manage_views.comparison, name="manage_comparison"),
    path(
        "surveys/manage/compare/print/",
        manage_views.comparison_print,
        name="manage_comparison_print",
    ),
    path(
        "surveys/manage/compare/export/",
        manage_views.comparison_export,
        name="manage_comparison_export",
    ),
    path("surveys/manage/<int:survey_id>/", manage_views.survey_detail, name="manage_survey"),
    path(
        "surveys/manage/<int:survey_id>/publish/",
        manage_views.survey_publish,
        name="manage_survey_publish",
    ),
    path(
        "surveys/manage/<int:survey_id>/close/",
        manage_views.survey_close,
        name="manage_survey_close",
    ),
    path(
        "surveys/manage/<int:survey_id>/print/",
        manage_views.survey_print,
        name="manage_survey_print",
    ),
    path(
        "surveys/manage/<int:survey_id>/export/",
        manage_views.survey_export,
        name="manage_survey_export",
    ),
    path("surveys/manage/templates/new/", manage_views.template_new, name="manage_template_new"),
    path(
        "surveys/manage/templates/<int:template_id>/",
        manage_views.template_edit,
        name="manage_template",
    ),
    path(
        "surveys/manage/templates/<int:template_id>/update/",
        manage_views.template_update,
        name="manage_template_update",
    ),
    path(
        "surveys/manage/templates/<int:template_id>/sections/",
        manage_views.section_save,
        name="manage_section_save",
    ),
    path(
        "surveys/manage/templates/<int:template_id>/questions/new/",
        manage_views.question_edit,
        name="manage_question_new",
    ),
    path(
        "surveys/manage/templates/<int:template_id>/questions/<int:question_id>/",
        manage_views.question_edit,
        name="manage_question_edit",
    ),
    path(
        "surveys/manage/templates/<int:template_id>/questions/delete/",
        manage_views.question_delete,
        name="manage_question_delete",
    ),
    path(
        "surveys/manage/templates/<int:template_id>/questions/move/",
        manage_views.question_move,
        name="manage_question_move",
    ),
    # -- manage pages end --
]
