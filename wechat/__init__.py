"""WeChat: mini-program sign-in and subscription messages (docs/WECHAT.md)."""
