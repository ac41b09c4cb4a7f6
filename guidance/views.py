"""Thin views: forms in, services and selectors called, templates out."""

# --- helper 2 views ---
