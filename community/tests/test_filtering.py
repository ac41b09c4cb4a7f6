"""The sensitive-word check (community/filtering.py): substrings, not word boundaries;
pinyin and homophones; the district's list in the database and its version."""

import random
import time

import pytest

from community.filtering import (
    Matcher,
    normalise,
    pinyin_key,
    text_check,
    wordlist_bump,
)
from community.models import SensitiveWord, WordListVersion
from tests.races import run_together

WORDS = [
    ("法轮功", "politics", True),
    ("刷单", "fraud", True),
    ("加微信", "ads", True),
    ("代购", "ads", True),
    ("赌", "gambling", True),
    ("西安", "other", True),
    ("QQ群", "ads", True),
    ("傻逼", "abuse", False),
]


@pytest.fixture(scope="module")
def matcher():
    return Matcher.from_words(WORDS)


def test_normalise_drops_spaces_punctuation_zero_width_and_folds_width_and_case():
    assert normalise("法*轮 功") == "法轮功"
    assert normalise("法\u200b轮\u200d功\ufeff") == "法轮功"
    assert normalise("ＦａＬｕｎ　Ｇｏｎｇ！") == "falungong"
    assert normalise("加 Q-Q_群。") == "加qq群"
    assert normalise("第3课 ①") == "第3课1"
    assert normalise("") == ""


@pytest.mark.parametrize(
    "text",
    ["法轮功", "法lun功", "fa lun gong", "法輪功", "珐仑功", "Fǎ Lún Gōng", "ＦＡ ＬＵＮ ＧＯＮＧ"],
)
def test_pinyin_key_gives_one_sound_for_every_spelling(text):
    assert pinyin_key(text) == "falungong"


def test_pinyin_key_keeps_digits_and_drops_everything_else():
    assert pinyin_key("加V信 123！") == "jiavxin123"
    assert pinyin_key("★☆——") == ""


@pytest.mark.parametrize(
    ("text", "word"),
    [
        # Chinese substrings: no spaces, no word boundaries around the word
        ("我最近在练法轮功了", "法轮功"),
        ("在家刷单一天赚三百", "刷单"),
        # separators, zero-width characters, full width, case
        ("法*轮 功", "法轮功"),
        ("法\u200b轮\u200b功", "法轮功"),
        ("有事加ＱＱ 群聊", "qq群"),
        ("加qQ群", "qq群"),
        # pinyin, mixed spellings, traditional characters, homophones
        ("想了解 fa lun gong 的请私信", "法轮功"),
        ("FaLunGong", "法轮功"),
        ("法lun功", "法轮功"),
        ("法輪功", "法轮功"),
        ("珐仑功", "法轮功"),
        ("shua dan 兼职", "刷单"),
        ("有需要的家长加 wei 信", "加微信"),
        ("jia wei xin 了解", "加微信"),
        ("带狗宠物用品", "代购"),
        # a single-character word still matches as a substring
        ("周末去赌场", "赌"),
    ],
)
def test_listed_words_are_found(matcher, text, word):
    result = matcher.check(text)
    assert result.hit
    assert word in result.words


def test_a_result_names_the_categories_of_every_word_found(matcher):
    result = matcher.check("刷单加微信，还有法轮功")
    assert result.hit
    assert set(result.words) == {"刷单", "加微信", "法轮功"}
    assert result.categories == ("ads", "fraud", "politics")


@pytest.mark.parametrize(
    "text",
    [
        "家委会通知：明天下午三点开家长会，请家长签字后把回执交给班主任。",
        "孩子写作业总是拖拉，各位家长有什么好办法吗？",
        "周末带孩子去西湖边骑车，天气很好，推荐给大家。",
        "先把作业做完再玩，是我们家的规矩。",  # 先 is "xian", but not 西安
        "喜欢安静的孩子也需要朋友。",
        "学校的微信公众号发布了新的课程安排。",
        "谢谢老师的耐心解答！",
        "",
    ],
)
def test_ordinary_parenting_text_does_not_hit(matcher, text):
    assert not matcher.check(text).hit


def test_single_character_words_are_not_matched_through_pinyin(matcher):
    # 赌 is "du": 读书 (du shu), 度假 (du jia) and "du" typed out must pass
    assert not matcher.check("每天读书半小时，暑假去度假").hit
    assert not matcher.check("du bo").hit
    assert matcher.check("赌博").hit


def test_a_word_without_pinyin_matching_is_matched_only_as_written(matcher):
    assert matcher.check("你个傻逼").hit
    assert not matcher.check("sha bi").hit


def test_an_empty_list_matches_nothing():
    assert not Matcher.from_words([]).check("法轮功").hit


def test_a_long_post_against_ten_thousand_words_is_fast():
    from pypinyin.pinyin_dict import pinyin_dict

    han = [chr(c) for c in pinyin_dict if 0x4E00 <= c <= 0x9FFF]
    rng = random.Random(16)
    words = [
        ("".join(rng.choice(han) for _ in range(rng.randint(2, 4))), "other", True)
        for _ in range(10_000)
    ]
    matcher = Matcher.from_words(words)
    post = "".join(rng.choice(han[:3000]) for _ in range(2_000))
    timings = []
    for _ in range(21):
        started = time.perf_counter()
        matcher.check(post)
        timings.append(time.perf_counter() - started)
    # The goal is 5 ms (the bench measures it); a loaded test machine gets slack.
    assert sorted(timings)[10] < 0.020


# --- the district's list ------------------------------------------------------------------


def _word(word, category="ads", match_pinyin=True, active=True):
    return SensitiveWord.objects.create(
        word=normalise(word), category=category, match_pinyin=match_pinyin, is_active=active
    )


@pytest.mark.django_db
def test_a_word_added_takes_effect_at_the_next_check():
    assert not text_check("周末刷单赚钱").hit
    _word("刷单", "fraud")
    wordlist_bump()
    result = text_check("周末 shua dan 赚钱")
    assert result.hit and result.categories == ("fraud",)


@pytest.mark.django_db
def test_a_word_deactivated_or_deleted_stops_matching_at_the_next_check():
    word = _word("代购")
    other = _word("加微信")
    wordlist_bump()
    assert text_check("代购奶粉").hit
    assert text_check("加微信").hit
    SensitiveWord.objects.filter(pk=word.pk).update(is_active=False)
    other.delete()
    wordlist_bump()
    assert not text_check("代购奶粉").hit
    assert not text_check("加微信").hit


@pytest.mark.django_db
def test_the_matcher_is_rebuilt_only_when_the_version_changed(django_assert_num_queries):
    _word("刷单")
    wordlist_bump()
    text_check("刷单")
    # the list is unchanged: one query (the version), no rebuild
    with django_assert_num_queries(1):
        assert text_check("刷单").hit
    # a word written without a bump is not seen yet: the services always bump
    _word("代购")
    with django_assert_num_queries(1):
        assert not text_check("代购").hit
    wordlist_bump()
    with django_assert_num_queries(2):
        assert text_check("代购").hit


@pytest.mark.django_db
def test_bumps_count_up_on_one_row():
    wordlist_bump()
    wordlist_bump()
    wordlist_bump()
    assert list(WordListVersion.objects.values_list("version", flat=True)) == [3]
    assert WordListVersion.objects.get().changed_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_first_bumps_at_once_make_one_row_and_both_count():
    from django.db import transaction

    def bump():
        with transaction.atomic():
            wordlist_bump()

    outcome = run_together([bump, bump], meet_before_write=["community_wordlistversion"])
    assert not outcome.errors
    assert list(WordListVersion.objects.values_list("version", flat=True)) == [2]
