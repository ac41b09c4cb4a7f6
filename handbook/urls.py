from django.urls import path

from . import views

app_name = "handbook"

urlpatterns = [
    # the family's handbook
    path("handbook/", views.handbook_home, name="home"),
    path("handbook/claim/", views.claim_new, name="claim"),
    path("handbook/claims/<int:pk>/", views.claim_detail, name="claim_detail"),
    path("handbook/claims/<int:pk>/withdraw/", views.claim_withdraw, name="claim_withdraw"),
    path("handbook/claims/<int:pk>/respond/", views.claim_respond, name="claim_respond"),
    # the photo of a claim: its family and its verifiers only, never a public address
    path("handbook/claims/<int:pk>/photo/", views.claim_photo, name="claim_photo"),
    path("handbook/print/", views.handbook_print, name="print"),
    # the verifiers (class teachers, unit coordinators)
    path("handbook/review/", views.review_queue, name="review"),
    path("handbook/review/approve/", views.review_bulk_approve, name="review_bulk_approve"),
    path("handbook/review/<int:pk>/", views.review_detail, name="review_detail"),
    # the alliance's coordinator
    path("handbook/items/", views.item_list, name="items"),
    path("handbook/items/customise/", views.items_customise, name="items_customise"),
    path("handbook/items/new/", views.item_edit, name="item_new"),
    path("handbook/items/<int:pk>/", views.item_edit, name="item_edit"),
]
