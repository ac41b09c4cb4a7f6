"""The bench's settings with the catalogue's caches off: its rendered content and
its facet counts are computed for every request (the catalogue with nothing reused)."""

from bench.settings import *  # noqa: F403

COURSE_CATALOGUE_CACHE_SECONDS = 0
COURSE_FACET_CACHE_SECONDS = 0
