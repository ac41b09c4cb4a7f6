from django.urls import path

from . import views

app_name = "recognition"

urlpatterns = [
    path("recognition/", views.overview, name="overview"),
    path(
        "recognition/alliances/<int:alliance_id>/terms/<int:term_id>/rule/",
        views.rule_edit,
        name="rule",
    ),
    path(
        "recognition/alliances/<int:alliance_id>/terms/<int:term_id>/compute/",
        views.compute,
        name="compute",
    ),
    path("recognition/lists/<int:list_id>/", views.list_detail, name="list"),
    path("recognition/lists/<int:list_id>/publish/", views.publish, name="publish"),
    path("recognition/lists/<int:list_id>/print/", views.list_print, name="print"),
    path("recognition/entries/<int:entry_id>/override/", views.override, name="override"),
    path("recognition/commendations/", views.commendations, name="commendations"),
    path(
        "recognition/commendations/<int:commendation_id>/remove/",
        views.commendation_remove,
        name="commendation_remove",
    ),
    path("recognition/export/", views.export, name="export"),
    path("recognition/progress/", views.progress, name="progress"),
]
