import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class FailingBackend(BaseEmailBackend):
    """An email backend whose server always refuses: for failure-path tests."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("SMTP server went away")
