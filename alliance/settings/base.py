"""Settings shared by every environment.

Everything that differs between a laptop and the district's servers comes from
the environment (see ``.env.example``), read through django-environ.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
# Rotating the key: the old one here (comma-separated) keeps sessions, links and
# ticket check digits working until it is removed (docs/OPERATIONS.md, secrets).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    # Tracks each signed-in session so that disabling an account can end them all.
    "allauth.usersessions",
    "import_export",
    "django_filters",
    "django_celery_beat",
    # Content-Security-Policy header (its system checks flag old-style CSP_* settings).
    "csp",
    # The JSON API (api/): its Swagger UI files are served as our own static files.
    "ninja",
    # Project apps, in dependency order: each depends only on those above it.
    "members",
    "notifications",
    # WeChat mini-program sign-in and subscription messages (docs/WECHAT.md).
    "wechat",
    "parent_school",
    "bookings",
    "courses",
    "events",
    # The smart-parent handbook, then learning families built on it (issue 14).
    "handbook",
    "recognition",
    # Buddy groups (学伴/家伴), then the mutual-help boards built on them (issue 16).
    "groups",
    "community",
    # Questionnaires, then the evaluation loop that counts their figures (issue 15).
    "surveys",
    "evaluation",
    "guidance",
    "volunteers",
    "certificates",
    "reports",
    "portal",
    # The JSON API calls every app's services and selectors, the pages' too (docs/ARCHITECTURE.md).
    "api",
]

MIDDLEWARE = [
    # First: the request id, bound for every line below, and the request's log line
    # (alliance/logging.py).
    "alliance.logging.RequestLogMiddleware",
    # Request latency, status and SQL queries per URL name (alliance/metrics.py, issue 19).
    "alliance.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside WhiteNoise and the 429 middleware, so every response carries the policy.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.ChinaFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # allauth's uncaught RateLimited (e.g. a second SMS code within 30 s) → 429, not 500.
    "members.middleware.RateLimitedMiddleware",
]

ROOT_URLCONF = "alliance.urls"
WSGI_APPLICATION = "alliance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

# Database: PostgreSQL through psycopg 3 when DATABASE_URL is set; otherwise a
# SQLite file in the project folder so that `make run` needs no server.
DATABASE_URL = env("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"

# China first: Simplified Chinese by default, English second; times stored in
# UTC and shown in Asia/Shanghai.
LANGUAGE_CODE = "zh-hans"
# Each language is named in itself in the switcher, whatever the page language.
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# With MEDIA_S3_BUCKET set, uploads go to an S3-compatible bucket (Aliyun OSS, Tencent
# COS, MinIO) instead of MEDIA_ROOT, so that several web hosts share them. Objects are
# private: the views still check who may see a file, then redirect to a signed URL
# that lives a few minutes (courses/streaming.py); names are never overwritten.
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")
# The browser follows that redirect, so a page's img-src and media-src must allow the
# bucket's origins: the endpoint's (path style) and the bucket's own host (virtual).
MEDIA_S3_ORIGINS: list[str] = []
if MEDIA_S3_BUCKET:
    _endpoint = __import__("urllib.parse").parse.urlsplit(
        env("MEDIA_S3_ENDPOINT_URL", default="")
        or f"https://s3.{env('MEDIA_S3_REGION', default='cn-east-1')}.amazonaws.com"
    )
    MEDIA_S3_ORIGINS = [
        f"{_endpoint.scheme}://{_endpoint.netloc}",
        f"{_endpoint.scheme}://{MEDIA_S3_BUCKET}.{_endpoint.netloc}",
    ]
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "endpoint_url": env("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "access_key": env("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env("MEDIA_S3_REGION", default="cn-east-1"),
            # "path" for MinIO, "virtual" for OSS and COS; unset: boto3 chooses
            "addressing_style": env("MEDIA_S3_ADDRESSING_STYLE", default="") or None,
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": env.int("MEDIA_S3_URL_EXPIRE", default=300),
            "file_overwrite": False,
        },
    }

# Redis is the cache and the Celery broker when REDIS_URL is set. With Redis down
# the cache answers as an empty one (alliance/cache.py): short timeouts, then a
# per-process breaker skips Redis for a few seconds (docs/OPERATIONS.md, "outages").
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "alliance.cache.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 1,
                "breaker_seconds": env.float("CACHE_BREAKER_SECONDS", default=5),
            },
        }
    }
else:
    # A real (per-process) cache, so that allauth's rate limits still apply.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery. Without Redis we use kombu's filesystem transport and a real worker
# (started by `make run`) rather than eager tasks: eager tasks would run inside
# the web request before the transaction commits, hide serialisation errors and
# leave beat (reminders, roll-ups) with nothing to run them. The filesystem
# transport keeps the embedded default behaving like production.
CELERY_FILESYSTEM_DIR = BASE_DIR / ".celery"
if REDIS_URL:
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Longer than any task's hard limit, so a running task is never redelivered;
        # reminders are never scheduled as ETA tasks (see docs/ARCHITECTURE.md).
        "visibility_timeout": 3600,
        # With Redis down, a task queued after a commit with retry=False (the
        # outbox kicks) fails at once instead of kombu retrying the connection for
        # ~6 s inside the web request; the rows stay pending for the beat pass.
        # Workers reconnect through their own loop (broker_connection_max_retries).
        "max_retries": 0,
        "socket_connect_timeout": 1,
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        # the exchange tables (broadcasts, the worker's pidbox): otherwise
        # ./control in whatever folder the worker was started from
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Static entries; django-celery-beat copies them into its tables at beat start.
CELERY_BEAT_SCHEDULE: dict = {}
# reports: recompute the current term's participation snapshots every night
# (02:30 Asia/Shanghai, CELERY_TIMEZONE).
CELERY_BEAT_SCHEDULE["reports-rollup-current-term"] = {
    "task": "reports.tasks.rollup_current_term",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=2, minute=30),
}
# reports: re-roll the snapshot keys that changes marked (bookings, attendance,
# credits) every minute; a change also queues a pass REPORTS_ROLLUP_DELAY_SECONDS
# after its commit (several changes share it), so dashboards are minutes old.
CELERY_BEAT_SCHEDULE["reports-rollup-marked"] = {
    "task": "reports.tasks.rollup_marked",
    "schedule": 60.0,
    "options": {"expires": 55},
}
REPORTS_ROLLUP_DELAY_SECONDS = env.int("REPORTS_ROLLUP_DELAY_SECONDS", default=10)

# courses: keep the catalogue's "next session" order current as sessions start.
CELERY_BEAT_SCHEDULE["courses-next-session-sweep"] = {
    "task": "courses.tasks.course_next_session_sweep",
    "schedule": 300.0,
    "options": {"expires": 290},
}

# events: the outbox pass (plan due reminders, then claim every due message —
# reminders, notices, receipts, promotions, invitations — and hand them to
# workers). It also sends what a lost "kick" after a commit left pending.
CELERY_BEAT_SCHEDULE["events-send-due-reminders"] = {
    "task": "events.tasks.reminders_run_due",
    "schedule": 60.0,
    "options": {"expires": 55},
}
# recognition: on and after a term's last day, enqueue one learning-family
# computation per alliance with a rule and no published list, and the notices of
# lists published in the last 7 days whose families are not all told (04:40 Asia/Shanghai).
CELERY_BEAT_SCHEDULE["recognition-learning-families-term-end"] = {
    "task": "recognition.tasks.learning_families_term_end",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=4, minute=40),
}
# api: forget Idempotency-Key answers past their age (04:10 Asia/Shanghai).
# handbook: propose at-school claims from the current term's attendance record every
# night (a check-in also queues a proposal right after it commits).
CELERY_BEAT_SCHEDULE["handbook-propose-from-attendance"] = {
    "task": "handbook.tasks.claims_propose_sweep",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=1, minute=40),
}
# surveys: every 10 minutes enqueue the due questionnaire work (session surveys of
# ended sessions of course series, invitations, reminders, the final release of
# closed anonymous surveys); workers do it, each step idempotent.
CELERY_BEAT_SCHEDULE["surveys-due-sweep"] = {
    "task": "surveys.tasks.surveys_due_sweep",
    "schedule": 600.0,
    "options": {"expires": 590},
}
# community: at 20:00 Asia/Shanghai, one digest notice per person who chose the daily
# digest and has board notices waiting (community.tasks.digests_send).
CELERY_BEAT_SCHEDULE["community-daily-digests"] = {
    "task": "community.tasks.digests_send",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=20, minute=0),
}
CELERY_BEAT_SCHEDULE["api-idempotency-purge"] = {
    "task": "api.tasks.idempotency_purge",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=4, minute=10),
}
# guidance: make the slots of the mentors' weekly patterns GUIDANCE_PATTERN_WEEKS
# ahead every night (03:20 Asia/Shanghai); publishing a pattern makes them at once.
CELERY_BEAT_SCHEDULE["guidance-patterns-materialise"] = {
    "task": "guidance.tasks.patterns_materialise",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=3, minute=20),
}
# guidance: send the follow-up reminders that are due, every 5 minutes (due times
# stay in the database; no far-future ETA tasks on Redis).
CELERY_BEAT_SCHEDULE["guidance-followups-send"] = {
    "task": "guidance.tasks.followups_send",
    "schedule": __import__("celery.schedules").schedules.crontab(minute="*/5"),
}

# volunteers: record the current term's automatic service hours (course sessions,
# events and consultations volunteers led) every night at 02:10 Asia/Shanghai,
# before the 02:30 roll-up reads them.
CELERY_BEAT_SCHEDULE["volunteers-hours-record"] = {
    "task": "volunteers.tasks.hours_record",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=2, minute=10),
}

# SECTION certificates beat (helper C): term-end issuing
# certificates: at 05:10 Asia/Shanghai start one term-end batch per alliance with
# active rules whose term ended in the last CERTIFICATES_TERM_END_DAYS days (once
# per alliance and term); workers issue it in chunks (docs/CERTIFICATES.md).
CELERY_BEAT_SCHEDULE["certificates-term-end"] = {
    "task": "certificates.tasks.certificates_term_end",
    "schedule": __import__("celery.schedules").schedules.crontab(hour=5, minute=10),
}
# END SECTION certificates beat

# Email: SMTP by default (a mail catcher in docker-compose).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="协同育人门户 <noreply@example.cn>")

# SMS: a small backend interface (members/sms.py); the default logs the message.
SMS_BACKEND = env("SMS_BACKEND", default="members.sms.ConsoleSMSBackend")
SMS_OPTIONS = env.json("SMS_OPTIONS", default={})
# Every text starts with it (providers in China refuse unsigned messages);
# members.sms.send_sms adds it once. Empty: the provider signs (SMS_OPTIONS sign_name).
SMS_SIGNATURE = env("SMS_SIGNATURE", default="【协同育人门户】")

# django-allauth: sign in with phone or email (see docs/ACCOUNTS.md). Neither is
# required on its own: the signup form (members.forms.PortalSignupForm) asks for
# at least one, so administrators and coordinators without a phone can sign in.
ACCOUNT_LOGIN_METHODS = {"phone", "email"}
ACCOUNT_SIGNUP_FIELDS = ["phone", "email", "password1*", "password2*"]
ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
# 「已登录：王妈妈」 or 「已登录：138****5678」, never the random username.
ACCOUNT_USER_DISPLAY = "members.privacy.person_name"
ACCOUNT_FORMS = {
    "signup": "members.forms.PortalSignupForm",
    "change_password": "members.forms.PortalChangePasswordForm",
}
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_PHONE_VERIFICATION_ENABLED = True
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_PHONE_VERIFICATION_TIMEOUT = 10 * 60
ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND = True
# Sign in with a texted code (短信验证码登录): also the way back in for a
# phone-only parent who forgot the password (password reset is by email).
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 10 * 60
ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_SIGNUP_REDIRECT_URL = "members:family"
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "login": "30/m/ip",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "change_phone": "1/m/user",
    "verify_phone": "1/30s/key,3/m/ip",
}
# allauth warns (account.W001) when no login method is a required sign-up
# field; PortalSignupForm requires a phone or an email, which it cannot see.
SILENCED_SYSTEM_CHECKS = ["account.W001"]
USERSESSIONS_TRACK_ACTIVITY = False
# Versions of the documents a guardian agrees to; raising one asks everybody again.
CHILDREN_INFO_RULES_VERSION = env("CHILDREN_INFO_RULES_VERSION", default="2025.1")
PRIVACY_POLICY_VERSION = env("PRIVACY_POLICY_VERSION", default="2025.1")
FAMILY_INVITATION_DAYS = 7
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)

# django-import-export: atomic imports, explicit permissions.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Off on purpose: the library's rule only strips a leading "=". Every export
# (admin, reports) escapes with members.privacy.spreadsheet_safe instead, through
# the admin's export formats (members/resources.py) and reports/exports.py.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
CSRF_COOKIE_HTTPONLY = True
# A refused form (expired page, cookies blocked) gets the portal's own page.
CSRF_FAILURE_VIEW = "portal.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy (django-csp 4; docs/ARCHITECTURE.md "Security headers and
# HTML validity"): only the portal's own origin. Scripts and styles live in static
# files; an inline <script>/<style> must carry nonce="{{ request.csp_nonce }}", and
# a page that used a nonce is never put in a shared cache (the nonce is per response).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        # The bucket's origins when media live on S3: protected files redirect there.
        "img-src": [SELF, *MEDIA_S3_ORIGINS],
        "media-src": [SELF, *MEDIA_S3_ORIGINS],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Portal-specific knobs.
PORTAL_NAME = _("协同育人门户")
BOOKING_CANCEL_CLOSES_HOURS = env.int("BOOKING_CANCEL_CLOSES_HOURS", default=2)
BOOKING_LOCK_TIMEOUT = env("BOOKING_LOCK_TIMEOUT", default="3s")
# courses: the on-site check-in QR link lives this many seconds (the page refreshes it),
# and check-in opens this many minutes before a session starts.
# The catalogue's content is shared by all visitors for this many seconds (0: off).
COURSE_CATALOGUE_CACHE_SECONDS = env.int("COURSE_CATALOGUE_CACHE_SECONDS", default=30)
# Facet counts are shared across pages for this many seconds (0: counted per request),
# and the set of courses with a free seat (the 只看有空位 count and filter) is this old
# at most; the cards' own badges and the course page are always live.
COURSE_FACET_CACHE_SECONDS = env.int("COURSE_FACET_CACHE_SECONDS", default=60)
COURSE_FREE_SEATS_SECONDS = env.int("COURSE_FREE_SEATS_SECONDS", default=30)
COURSE_CHECKIN_TOKEN_MAX_AGE = env.int("COURSE_CHECKIN_TOKEN_MAX_AGE", default=600)
COURSE_CHECKIN_OPENS_MINUTES_BEFORE = env.int("COURSE_CHECKIN_OPENS_MINUTES_BEFORE", default=30)
# Attendance (sessions and events) is marked from check-in opening until this many
# days after the end (bookings.selectors.attendance_marking).
ATTENDANCE_MARKING_CLOSES_DAYS_AFTER_END = env.int(
    "ATTENDANCE_MARKING_CLOSES_DAYS_AFTER_END", default=7
)
# Online lessons (courses.services.lesson_progress_record): the page sends a heartbeat
# this often while the video plays; the credit is posted once this share is watched.
LESSON_HEARTBEAT_SECONDS = env.int("LESSON_HEARTBEAT_SECONDS", default=10)
LESSON_CREDIT_PERCENT = env.int("LESSON_CREDIT_PERCENT", default=90)
# Behind nginx (docker-compose): lesson videos are handed to nginx by X-Accel-Redirect
# under this internal prefix (nginx serves the ranges); empty: Django streams them.
MEDIA_ACCEL_REDIRECT_PREFIX = env("MEDIA_ACCEL_REDIRECT_PREFIX", default="")
EXPORT_BACKGROUND_THRESHOLD = env.int("EXPORT_BACKGROUND_THRESHOLD", default=20000)
# Rosters: full phone numbers a coordinator or instructor may reveal per hour (each
# reveal is audit-logged; members.services.guardian_phones_reveal), and how long a
# revealed number stays shown on that roster for them.
ROSTER_PHONE_REVEALS_PER_HOUR = env.int("ROSTER_PHONE_REVEALS_PER_HOUR", default=30)
ROSTER_PHONE_SHOWN_SECONDS = env.int("ROSTER_PHONE_SHOWN_SECONDS", default=900)
# events/reminders (docs/EVENTS.md): absolute links in messages, batch sizes, claim lease.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
REMINDER_BATCH_SIZE = env.int("REMINDER_BATCH_SIZE", default=500)
REMINDER_MAX_BATCHES_PER_PASS = env.int("REMINDER_MAX_BATCHES_PER_PASS", default=20)
REMINDER_CLAIM_LEASE_SECONDS = env.int("REMINDER_CLAIM_LEASE_SECONDS", default=600)
REMINDER_MAX_ATTEMPTS = env.int("REMINDER_MAX_ATTEMPTS", default=5)
REMINDER_MAX_CLAIMS = env.int("REMINDER_MAX_CLAIMS", default=20)
# Rows per send task, by channel (events.reminders.send_chunks): an in-site task is one
# bulk transaction, an email task one SMTP connection, a text task one HTTP connection.
REMINDER_SEND_CHUNK_INBOX = env.int("REMINDER_SEND_CHUNK_INBOX", default=500)
REMINDER_SEND_CHUNK_EMAIL = env.int("REMINDER_SEND_CHUNK_EMAIL", default=50)
REMINDER_SEND_CHUNK_SMS = env.int("REMINDER_SEND_CHUNK_SMS", default=100)
# The JSON API (docs/API.md): requests per minute per token (or signed-in user) and per
# client address, and how long an Idempotency-Key's answer is kept.
API_RATE_PER_TOKEN = env.int("API_RATE_PER_TOKEN", default=600)
API_RATE_PER_IP = env.int("API_RATE_PER_IP", default=1200)
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)
NINJA_PAGINATION_MAX_LIMIT = 100
# WeChat mini-program (docs/WECHAT.md). WECHAT_BACKEND: wechat.client.ConsoleWeChatClient
# (default: codes "demo-…", sends logged) or wechat.client.HttpWeChatClient (WeChat's HTTPS API
# at WECHAT_API_BASE with the mini-program's AppID and AppSecret; no default secret in production).
WECHAT_BACKEND = env("WECHAT_BACKEND", default="wechat.client.ConsoleWeChatClient")
WECHAT_API_BASE = env("WECHAT_API_BASE", default="https://api.weixin.qq.com")
WECHAT_APP_ID = env("WECHAT_APP_ID", default="")
WECHAT_APP_SECRET = env("WECHAT_APP_SECRET", default="")
# Seconds to connect to WeChat and to wait for its answer.
WECHAT_CONNECT_TIMEOUT = env.float("WECHAT_CONNECT_TIMEOUT", default=3.0)
WECHAT_READ_TIMEOUT = env.float("WECHAT_READ_TIMEOUT", default=5.0)
# "stable" (getStableAccessToken, POST /cgi-bin/stable_token, recommended) or "token" (GET /cgi-bin/token).
WECHAT_TOKEN_ENDPOINT = env("WECHAT_TOKEN_ENDPOINT", default="stable")
# Which build a subscription message opens: formal, trial or developer.
WECHAT_MINIPROGRAM_STATE = env("WECHAT_MINIPROGRAM_STATE", default="formal")
# Minutes a sign-in's binding ticket (openid waiting for a phone) stays valid; days an API
# token made by a mini-program sign-in lasts.
WECHAT_BINDING_MINUTES = env.int("WECHAT_BINDING_MINUTES", default=10)
WECHAT_TOKEN_DAYS = env.int("WECHAT_TOKEN_DAYS", default=30)
# The growth handbook (handbook/services.py): a claim's photo is refused above this size,
# shrunk to this long side and re-encoded; this many claims by one family within this
# many minutes flag the claim to the verifier (a burst).
HANDBOOK_PHOTO_MAX_BYTES = env.int("HANDBOOK_PHOTO_MAX_BYTES", default=8 * 1024 * 1024)
HANDBOOK_PHOTO_MAX_SIDE = env.int("HANDBOOK_PHOTO_MAX_SIDE", default=1600)
HANDBOOK_BURST_CLAIMS = env.int("HANDBOOK_BURST_CLAIMS", default=5)
HANDBOOK_BURST_MINUTES = env.int("HANDBOOK_BURST_MINUTES", default=10)
# Questionnaires (surveys/, docs/SURVEYS.md): any breakdown with fewer answers than
# SURVEYS_MIN_GROUP is hidden (「样本不足，不显示」), named or anonymous; anonymous answers
# are released in batches of SURVEYS_ANONYMOUS_BATCH (never fewer, but for the last
# batch merged into the one before it at closing); session and event surveys invite
# this many minutes after the offering ends unless the survey says otherwise.
SURVEYS_MIN_GROUP = env.int("SURVEYS_MIN_GROUP", default=5)
SURVEYS_ANONYMOUS_BATCH = env.int("SURVEYS_ANONYMOUS_BATCH", default=5)
SURVEYS_INVITE_DELAY_MINUTES = env.int("SURVEYS_INVITE_DELAY_MINUTES", default=120)
# Buddy groups (groups/, docs/GROUPS.md): a family (家伴) or a child (学伴) is in at
# most this many groups of each kind at once; the database holds the limit.
GROUPS_MAX_PER_KIND = env.int("GROUPS_MAX_PER_KIND", default=3)
# Boards (community/, docs/COMMUNITY.md). A post has at most this many characters
# and pictures; reports from this many families hold a published post for review;
# the cloud content check (COMMUNITY_CONTENT_CHECK: "" = off, "wechat" = WeChat's
# msgSecCheck, or a dotted path to a checker class) is off by default.
COMMUNITY_POST_MAX_CHARS = env.int("COMMUNITY_POST_MAX_CHARS", default=5000)
COMMUNITY_POST_MAX_IMAGES = env.int("COMMUNITY_POST_MAX_IMAGES", default=4)
COMMUNITY_REPORTS_HOLD = env.int("COMMUNITY_REPORTS_HOLD", default=3)
COMMUNITY_CONTENT_CHECK = env("COMMUNITY_CONTENT_CHECK", default="")
COMMUNITY_DIGEST_HOUR = 20
# A board picture: refused above this size, shrunk to this many pixels on its
# long side and re-encoded without metadata (members.photos.photo_clean).
COMMUNITY_IMAGE_MAX_BYTES = env.int("COMMUNITY_IMAGE_MAX_BYTES", default=8 * 1024 * 1024)
COMMUNITY_IMAGE_MAX_SIDE = env.int("COMMUNITY_IMAGE_MAX_SIDE", default=1600)
# Growth guidance (guidance/, docs/GUIDANCE.md): a weekly slot pattern is made into
# slots this many weeks ahead; a booking's need has at most this many characters.
# Per-family limits are each station's own settings (Station.open_bookings_max,
# Station.term_bookings_max), held by the database (GuidanceQuota).
GUIDANCE_PATTERN_WEEKS = env.int("GUIDANCE_PATTERN_WEEKS", default=4)
GUIDANCE_NEED_MAX_CHARS = env.int("GUIDANCE_NEED_MAX_CHARS", default=500)
GUIDANCE_NOTE_MAX_CHARS = env.int("GUIDANCE_NOTE_MAX_CHARS", default=5000)
# The key that seals anonymous answers waiting for release and answer drafts
# and the guidance station's private and restricted notes and booking needs
# (members/sealing.py); empty: derived from SECRET_KEY. Changing it makes waiting
# sealed values unreadable, so set it once.
SEALING_KEY = env("SEALING_KEY", default="")

# SECTION certificates settings (helper A: signing key, issuer; helper C: batch sizes)
# Issuing: candidates per chunk (one transaction, one task; the task re-enqueues
# itself until the batch is done: 500 stay well inside CELERY_TASK_SOFT_TIME_LIMIT),
# and how many days after a term's end the beat still starts its batch.
CERTIFICATES_BATCH_CHUNK = env.int("CERTIFICATES_BATCH_CHUNK", default=500)
CERTIFICATES_TERM_END_DAYS = env.int("CERTIFICATES_TERM_END_DAYS", default=14)
# Signing (certificates/credentials.py, docs/CERTIFICATES.md): the district's
# Ed25519 seed (base64url, 32 bytes; `manage.py certificate_key --generate`). Empty:
# derived from SECRET_KEY (development only). Set it once: earlier certificates
# verify only while their public key is current or listed as retired (z6Mk…).
CERTIFICATES_SIGNING_KEY = env("CERTIFICATES_SIGNING_KEY", default="")
CERTIFICATES_RETIRED_PUBLIC_KEYS = env.list("CERTIFICATES_RETIRED_PUBLIC_KEYS", default=[])
# The issuer's id in every credential; empty: did:web:<host of PORTAL_BASE_URL>.
CERTIFICATES_ISSUER_ID = env("CERTIFICATES_ISSUER_ID", default="")
# END SECTION certificates settings

# Logs (alliance/logging.py, docs/OPERATIONS.md "logs"): one JSON object per line
# on stderr, from web nodes and workers alike, phone numbers and secrets redacted;
# LOG_FORMAT=console shows the same fields for eyes (development).
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "alliance.logging.json_formatter"},
        "console": {"()": "alliance.logging.console_formatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's access lines: the request line below says the same, query-less
        "django.server": {"level": "WARNING"},
        "celery": {"level": "INFO"},
        # one line per request and per task, whatever LOG_LEVEL says of the rest
        "alliance.request": {"level": "INFO"},
        "alliance.task": {"level": "INFO"},
    },
}
# structlog's loggers write through the handlers above (alliance/logging.py).
from alliance.logging import configure_structlog  # noqa: E402

configure_structlog()

# --- queues (issue 19)
# Celery queues by workload (docs/OPERATIONS.md, "scale-out"): production runs
# workers pinned to each (`celery worker -Q notify`, docker-compose's production
# profile), so a term-end certificate batch never delays a booking receipt.
# - notify: the outbox (claim and send deliveries) and the tasks whose work is
#   making notices (digests, follow-ups, survey invitations and reminders,
#   learning-family notices);
# - reports: roll-ups, exports, certificates, learning-family lists, service hours;
# - default: everything else (sweeps, the handbook's proposals, purges, heartbeat).
# All three are declared, so a worker started without -Q (`make run`, the tests'
# real workers) consumes every queue.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [
    __import__("kombu").Queue(name, routing_key=name) for name in ("notify", "reports", "default")
]
CELERY_TASK_ROUTES = {
    "events.tasks.*": {"queue": "notify"},
    "community.tasks.digests_send": {"queue": "notify"},
    "guidance.tasks.followups_send": {"queue": "notify"},
    "surveys.tasks.survey_invitations": {"queue": "notify"},
    "surveys.tasks.survey_reminders": {"queue": "notify"},
    "recognition.tasks.learning_family_notices": {"queue": "notify"},
    "reports.tasks.*": {"queue": "reports"},
    "certificates.tasks.*": {"queue": "reports"},
    "recognition.tasks.learning_families_compute": {"queue": "reports"},
    "recognition.tasks.learning_families_term_end": {"queue": "reports"},
    "volunteers.tasks.hours_record": {"queue": "reports"},
}

# --- metrics (issue 19)
# Prometheus metrics (alliance/metrics.py, docs/OPERATIONS.md "metrics"). /metrics
# answers a request with `Authorization: Bearer <METRICS_TOKEN>` (empty: no token
# accepted), or one reaching the node directly (no X-Forwarded-For) from one of
# METRICS_ALLOWED_NETS; anything else gets a 404. Gunicorn's and Celery's worker
# processes share their values through PROMETHEUS_MULTIPROC_DIR (an environment
# variable, set before the process starts, emptied at each deploy).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETS = env.list("METRICS_ALLOWED_NETS", default=["127.0.0.1/32", "::1/128"])
# A worker node's own scrape port (0: none), served by the main worker process.
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
METRICS_WORKER_ADDR = env("METRICS_WORKER_ADDR", default="127.0.0.1")
# Extra queue names to measure besides CELERY_TASK_QUEUES (a worker's -Q of its own).
METRICS_CELERY_QUEUES = env.list("METRICS_CELERY_QUEUES", default=[])
# Bounded scrape-time counts: failed deliveries among the newest rows, and the
# newest bookings searched for those of the last minute (more than a minute's worth).
METRICS_OUTBOX_FAILED_WINDOW = env.int("METRICS_OUTBOX_FAILED_WINDOW", default=100_000)
METRICS_BOOKINGS_WINDOW = env.int("METRICS_BOOKINGS_WINDOW", default=20_000)
# /readyz keeps its unapplied-migrations answer this long (seconds).
READYZ_MIGRATIONS_CACHE_SECONDS = env.int("READYZ_MIGRATIONS_CACHE_SECONDS", default=5)
# Workers import the module that connects the task-outcome signals.
CELERY_IMPORTS = [*globals().get("CELERY_IMPORTS", []), "alliance.metrics"]
# Probes and scrapes reach a node directly over plain HTTP (no proxy, no
# X-Forwarded-Proto): not redirected to HTTPS when SECURE_SSL_REDIRECT is on.
SECURE_REDIRECT_EXEMPT = [
    *globals().get("SECURE_REDIRECT_EXEMPT", []),
    r"^(healthz|readyz|metrics)$",
]

# --- read replica (issue 19)
# Optional PostgreSQL streaming replica (docs/OPERATIONS.md "read replica"). Only the
# coordinator dashboards and exports below, and the export tasks, read from it
# (alliance/db_router.py, alliance/replica.py); bookings, check-in and every write use
# the primary. While it is unreachable they read from the primary (a warning is logged)
# and ask it again after REPLICA_RETRY_SECONDS.
DATABASE_REPLICA_URL = env("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL and DATABASE_URL:
    _replica = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"] = {
        **DATABASES["default"],
        **_replica,
        # A replica that is down answers "no" within seconds, not the OS's TCP timeout.
        "OPTIONS": {
            "connect_timeout": 3,
            **DATABASES["default"].get("OPTIONS", {}),
            **_replica.get("OPTIONS", {}),
        },
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        # Tests: no test database is made on the replica; it replays the primary's.
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["alliance.db_router.ReplicaRouter"]
REPLICA_RETRY_SECONDS = env.int("REPLICA_RETRY_SECONDS", default=10)
# GET/HEAD pages read from the replica: pure reports that no form redirects to after
# saving (a page shown right after a save must show it: those stay on the primary).
REPLICA_READ_VIEWS = [
    "reports:overview",
    "reports:unit",
    "reports:school",
    "reports:job_download",
    "guidance:dashboard",
    "surveys:manage_comparison",
    "surveys:manage_comparison_print",
]
# POST exports: each writes its audit entry (on the primary), then only reads.
REPLICA_READ_EXPORT_VIEWS = [
    "reports:export",
    "recognition:export",
    "surveys:manage_comparison_export",
    "surveys:manage_survey_export",
]
# Tasks that only read (and write a file): never a roll-up, whose marks are deleted
# with the re-roll and so must count the primary's rows.
REPLICA_READ_TASKS = ["reports.tasks.export_job_run"]
# Read from the primary even inside those: the job row a task was queued for may not
# have reached the replica yet; sessions are saved a moment before the page reads them.
REPLICA_PRIMARY_MODELS = ["reports.reportjob", "sessions.session", "usersessions.usersession"]
MIDDLEWARE = [*MIDDLEWARE, "alliance.replica.ReplicaReadMiddleware"]
