"""The SMS backend interface: console (masked number), in-memory, HTTP gateway."""

import pytest

from members.sms import (
    ConsoleSMSBackend,
    HttpApiSMSBackend,
    LocmemSMSBackend,
    SMSDeliveryError,
    SMSMessage,
    mask_phone,
    send_sms,
)


def test_mask_phone():
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("") == ""
    assert mask_phone("12345") == "*****"


def test_console_backend_prints_the_text_with_a_masked_number(capsys):
    ConsoleSMSBackend().send(SMSMessage(phone="13812341234", text="验证码 123456"))
    out = capsys.readouterr().out
    assert "138****1234" in out and "123456" in out
    assert "13812341234" not in out


def test_the_backend_is_chosen_by_settings(settings):
    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    settings.SMS_OPTIONS = {}
    LocmemSMSBackend.reset()
    send_sms(phone="13812341234", text="hello")
    # (send_sms signs every text: SMS_SIGNATURE, 【协同育人门户】 by default)
    assert LocmemSMSBackend.outbox == [
        SMSMessage(phone="13812341234", text="【协同育人门户】hello")
    ]
    LocmemSMSBackend.reset()


def test_http_backend_raises_a_delivery_error_the_task_can_retry():
    backend = HttpApiSMSBackend(url="http://127.0.0.1:9/unreachable", timeout=1)
    with pytest.raises(SMSDeliveryError):
        backend.send(SMSMessage(phone="13812341234", text="x"))
    with pytest.raises(SMSDeliveryError):
        HttpApiSMSBackend().send(SMSMessage(phone="13812341234", text="x"))
