"""Paths of the members app, named in full (the project includes them at the root).

No path carries personal data: children and invitations are addressed by
database id (looked up inside the signed-in user's family) or by a random token.
"""

from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("family/", views.family, name="family"),
    path("family/profile/", views.guardian_edit, name="guardian_edit"),
    path("family/children/add/", views.child_add, name="child_add"),
    path("family/children/<int:pk>/edit/", views.child_edit, name="child_edit"),
    path("family/children/<int:pk>/delete/", views.child_delete, name="child_delete"),
    path("family/invite/", views.invite, name="invite"),
    path(
        "family/invitations/<int:pk>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("family/join/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("family/units/", views.unit_list, name="unit_list"),
    path("family/units/<int:unit_id>/families/", views.unit_families, name="unit_families"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/children/", views.children_rules, name="children_rules"),
    path("me/data/", views.my_data, name="my_data"),
    path("me/data/export.json", views.my_data_json, name="my_data_json"),
    path("me/data/export.html", views.my_data_html, name="my_data_html"),
    path("me/data/delete-account/", views.account_delete, name="account_delete"),
    path("me/tokens/", views.api_tokens, name="api_tokens"),
    path("me/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
