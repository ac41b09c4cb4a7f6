from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChinaFirstLocaleMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, but Chinese unless the visitor chose otherwise.

    Many phones in China report an English Accept-Language; the portal still
    opens in Simplified Chinese, and the language switch (a cookie) wins.
    The JSON API (/api/) is different: its callers are programs that set
    Accept-Language on purpose (a mini-program sends the user's WeChat
    language), so there the header is honoured (docs/API.md, "Errors").
    """

    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if not chosen and request.path_info.startswith("/api/"):
            chosen = translation.get_language_from_request(request)
        if chosen and translation.check_for_language(chosen):
            language = translation.get_supported_language_variant(chosen)
        else:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
