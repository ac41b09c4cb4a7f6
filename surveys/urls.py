from django.urls import path

from . import manage_views, views

app_name = "surveys"

urlpatterns = [
    # the family's questionnaires (surveys/views.py)
    # -- family pages end --
    # coordinators: templates, surveys, results, comparison, exports (surveys/manage_views.py)
    # -- manage pages end --
]
