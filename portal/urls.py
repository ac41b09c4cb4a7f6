from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("language/", views.language_switch, name="language"),
    # 我的学习 joins courses and events, so it lives here, at the top layer.
    path("me/", views.my_learning, name="my_learning"),
    path("mine/", views.mine, name="mine"),
]
