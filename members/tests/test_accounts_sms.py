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


def test_http_backend_keeps_one_connection_for_many_texts():
    from tests.fakes import SmsGateway

    with SmsGateway() as gateway:
        backend = HttpApiSMSBackend(url=gateway.url, api_key="k")
        for i in range(5):
            backend.send(SMSMessage(phone=f"1381234123{i}", text=f"第{i}条"))
    assert [m["text"] for m in gateway.received] == [f"第{i}条" for i in range(5)]
    assert len(gateway.connections) == 1 and gateway.received[0]["auth"] == "Bearer k"


def test_a_gateway_that_takes_the_request_but_never_answers_is_not_asked_again():
    import socket
    import threading

    from members.sms import SMSNotTried, SMSOutcomeUnknown
    from tests.fakes import free_port

    # given a gateway that reads each request and hangs up without an answer
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    requests = []

    def serve():
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            with conn:
                requests.append(conn.recv(65536))

    threading.Thread(target=serve, daemon=True).start()
    backend = HttpApiSMSBackend(url=f"http://127.0.0.1:{port}/send", timeout=2)
    try:
        # when three texts are sent as a batch
        messages = [SMSMessage(phone=f"1391234123{i}", text="x") for i in range(3)]
        results = backend.send_many(messages)
    finally:
        listener.close()

    # then the first one's outcome is unknown and the others were never offered
    assert isinstance(results[0], SMSOutcomeUnknown)
    assert all(isinstance(r, SMSNotTried) for r in results[1:])
    assert len(requests) == 1
