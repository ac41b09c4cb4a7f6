app_name = "guidance"

urlpatterns: list = [
    # --- SECTION pages (helper owners in docs/ISSUE17_SPEC.md) ---
]
