"""Sealed values (members/sealing.py): readable by the application, not from the table."""

import pytest

from members.sealing import SealError, seal, unseal


def test_a_sealed_value_comes_back_as_it_was_given():
    value = {"satisfaction": 2, "topics": [0, 3], "why_low": "时间太晚，孩子没人照看"}
    assert unseal(seal(value, purpose="test"), purpose="test") == value


def test_the_sealed_text_shows_neither_the_value_nor_when_it_was_sealed():
    value = {"why_low": "时间太晚"}
    first, second = seal(value, purpose="test"), seal(value, purpose="test")
    # A random nonce each time: equal answers do not give equal texts, and no
    # clear timestamp prefix (as in Fernet tokens) lets rows be ordered by time.
    assert first != second
    assert "时间太晚" not in first and "why_low" not in first
    assert first[:8] != second[:8]


def test_a_value_sealed_for_one_purpose_cannot_be_read_as_another():
    token = seal([1, 2, 3], purpose="surveys.pending")
    with pytest.raises(SealError):
        unseal(token, purpose="surveys.draft")


def test_another_key_or_an_altered_text_is_refused(settings):
    token = seal("答案", purpose="test")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(SealError):
        unseal(tampered, purpose="test")
    settings.SEALING_KEY = "another-deployment"
    with pytest.raises(SealError):
        unseal(token, purpose="test")
    with pytest.raises(SealError):
        unseal("not sealed at all", purpose="test")


def test_sealed_texts_of_different_answers_have_the_same_length():
    # Padded to a bucket: the length of a waiting sealed row says nothing about
    # the length of the answers released later.
    short = seal({"satisfaction": 5}, purpose="test")
    long = seal({"satisfaction": 1, "why_low": "时间安排太晚，" * 20}, purpose="test")
    assert len(short) == len(long)
    assert unseal(long, purpose="test")["why_low"].startswith("时间安排太晚")
