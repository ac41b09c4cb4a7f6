from django.urls import path

from . import views

app_name = "community"

urlpatterns = [
    path("community/", views.home, name="home"),
    path("community/search/", views.search, name="search"),
    path("community/profile/", views.profile, name="profile"),
    path("community/moderation/", views.moderation, name="moderation"),
    path("community/boards/<int:board_id>/", views.board, name="board"),
    path("community/boards/<int:board_id>/new/", views.new_thread, name="new_thread"),
    path("community/boards/<int:board_id>/settings/", views.board_settings, name="board_settings"),
    path("community/groups/<int:group_id>/", views.group_board, name="group_board"),
    path("community/threads/<int:thread_id>/", views.thread, name="thread"),
    path("community/threads/<int:thread_id>/reply/", views.reply, name="reply"),
    path("community/threads/<int:thread_id>/accept/", views.accept, name="accept"),
    path("community/threads/<int:thread_id>/pin/", views.pin, name="pin"),
    path("community/threads/<int:thread_id>/close/", views.close, name="close"),
    path("community/posts/<int:post_id>/report/", views.report, name="report"),
    path("community/posts/<int:post_id>/decide/", views.decide, name="decide"),
    path("community/images/<int:image_id>/", views.post_image, name="image"),
]
