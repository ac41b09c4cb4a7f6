"""Turn allauth's ``RateLimited`` exception into the 429 page.

Some allauth flows (sending a phone verification code at sign-up or sign-in)
consume a rate limit with ``raise_exception=True`` and do not catch it, so a
second sign-up with the same number within 30 seconds would be a 500. This
answers 429, like every other limit.
"""

from allauth.core.exceptions import RateLimited
from django.shortcuts import render


class RateLimitedMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, RateLimited):
            return render(request, "429.html", status=429)
        return None
