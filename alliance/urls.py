from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from alliance.metrics import metrics, readyz
from portal.views import healthz

# The admin signs in through allauth, so its login has the same rate limits
# (allauth docs, "Admin"). Set before admin.site.urls is read below.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Readiness (database, cache, no pending migration) and Prometheus metrics,
    # the latter for the monitoring network or token only (alliance/metrics.py).
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    # Each app names its own paths in full (members: /family/, /privacy/;
    # parent_school: /parent-schools/; courses: /courses/, /me/, /checkin/;
    # events: /events/, /calendar/; notifications: /notifications/; reports: /reports/).
    path("", include("members.urls")),
    path("", include("parent_school.urls")),
    path("", include("courses.urls")),
    path("", include("events.urls")),
    path("", include("handbook.urls")),
    path("", include("notifications.urls")),
    path("", include("recognition.urls")),
    path("", include("groups.urls")),
    path("", include("community.urls")),
    path("", include("surveys.urls")),
    path("", include("evaluation.urls")),
    path("", include("guidance.urls")),
    path("", include("volunteers.urls")),
    path("", include("certificates.urls")),
    path("", include("reports.urls")),
    path("", include("portal.urls")),
    # /api/v1/: the JSON API, its schema and docs (docs/API.md).
    path("", include("api.urls")),
]

# The portal's own error pages (portal/errors.py; CSRF failures: CSRF_FAILURE_VIEW).
handler400 = "portal.errors.bad_request"
handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
