"""API: questionnaires (问卷调查) a family answers (docs/API.md, docs/SURVEYS.md "API").

The same selectors and services as the family's survey pages: the open surveys
(``surveys.selectors.surveys_open_for_family``) or the answered ones
(``surveys_answered_by_family``), one answer sheet (``answer_sheet``: questions with
their kinds, options and conditions, the draft's answers and step), saving a draft
(``surveys.services.draft_save``) and submitting (``response_submit``, with an
``Idempotency-Key``). One answer per family per survey is the database's
(``Participation``), so a second token, another guardian of the family or the
page after the API all get ``already_answered``.

A survey the family may not answer because it did not attend, or one not
published, is **404** ``survey_missing``, the same as a missing id: another
session's survey is not there for this family, like another family's booking.
"""

import datetime
from contextlib import contextmanager
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from pydantic import Field, StringConstraints

from courses.services import family_of
from surveys import selectors, services
from surveys.errors import SurveyError
from surveys.models import Question, Survey

from .auth import require_scope, signed_in
from .catalogue import MAX_ID
from .core import register_rule_errors
from .idempotency import idempotent
from .pagination import cursor_make, cursor_read
from .schemas import ErrorOut

register_rule_errors(SurveyError)

router = Router(tags=["surveys"])

SURVEY_LIMIT = 20
SURVEY_MAX_LIMIT = 50
SHORT_TEXT_MAX = 500
LONG_TEXT_MAX = 2000
MAX_ANSWERS = 200  # more keys than any questionnaire has questions
MAX_CHOSEN = 20  # a multiple choice has at most 20 options
SMALLINT = 32767  # Answer.number is a small integer
STEP_MAX = 500  # draft_save's bound for a screen index

READ_ANSWERS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ANSWERS = {**READ_ANSWERS, 503: ErrorOut}

# Codes that mean "this survey is not there for this family": answered as the
# missing survey, so a family cannot tell another session's survey from no survey.
NOT_YOURS = ("not_eligible", "not_published")

# The answers' format everywhere (services, pages, API): question key → value; an
# int (rating 1–5, NPS 0–10, a single choice's option index), a list of option
# indexes (multiple choice) or a text. PostgreSQL text holds no NUL character.
QuestionKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
AnswerNumber = Annotated[int, Field(ge=-SMALLINT, le=SMALLINT)]
AnswerText = Annotated[str, StringConstraints(max_length=LONG_TEXT_MAX, pattern=r"^[^\x00]*$")]
AnswerValue = (
    AnswerNumber | Annotated[list[AnswerNumber], Field(max_length=MAX_CHOSEN)] | AnswerText
)
Answers = Annotated[
    dict[QuestionKey, AnswerValue],
    Field(
        max_length=MAX_ANSWERS,
        description="题目代码 → 答案：评分 1–5、推荐度 0–10、单选为选项序号（从 0 起）；"
        "多选为选项序号的列表；简答、详答为文字",
    ),
]


@contextmanager
def _for_family():
    """A survey this family may not answer is answered as a missing one (404)."""
    try:
        yield
    except SurveyError as error:
        if error.code in NOT_YOURS:
            raise SurveyError("survey_missing") from None
        raise


def _family(request):
    family = family_of(request.user)
    if family is None:
        raise SurveyError("no_family")
    return family


# The list -----------------------------------------------------------------------------


class SurveyCardOut(Schema):
    id: int
    title: str
    scope: str = Field(
        description="session 课程场次 · event 活动 · parent_school_term 家长学校学期 · "
        "alliance_term 联盟学期"
    )
    scope_label: str
    is_anonymous: bool = Field(description="匿名问卷：答卷不记录属于哪个家庭")
    opens_at: datetime.datetime | None = None
    closes_at: datetime.datetime | None = Field(None, description="截止时间")
    answered: bool = Field(description="本家庭已经填写过")
    answered_at: datetime.datetime | None = Field(None, description="本家庭填写的时间")


class SurveyListOut(Schema):
    items: list[SurveyCardOut]
    next_cursor: str | None = None
    limit: int


class SurveyListQuery(Schema):
    state: Literal["open", "answered"] = Field(
        "open",
        description="open 待填写（默认，最早截止的在前） · answered 已填写（最近填写的在前）",
    )
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(SURVEY_LIMIT, ge=1, le=SURVEY_MAX_LIMIT)


def _card(row, *, answered: bool) -> SurveyCardOut:
    """A card for a survey, or for a participation (the answered list) and its survey."""
    survey = row if isinstance(row, Survey) else row.survey
    opens_at, closes_at = selectors.survey_window(survey)
    return SurveyCardOut(
        id=survey.pk,
        title=survey.title,
        scope=survey.scope,
        scope_label=survey.get_scope_display(),
        is_anonymous=survey.is_anonymous,
        opens_at=opens_at,
        closes_at=closes_at,
        answered=answered,
        answered_at=None if isinstance(row, Survey) else row.answered_at,
    )


# A far date for a card without a closing time, so that every card has a sort key.
_NEVER = datetime.datetime.max.replace(tzinfo=datetime.UTC)


def _sort_key(card: SurveyCardOut, state: str) -> tuple:
    if state == "open":
        return (card.closes_at or _NEVER, card.id)
    return (card.answered_at or _NEVER, card.id)


def _page(cards: list[SurveyCardOut], *, state: str, cursor, limit: int, scope: str):
    """A keyset page over the family's few surveys (the selectors answer whole lists):
    open ones closing soonest first, answered ones newest first. The cursor holds
    the last card's sort key, signed, like every list's (api/pagination.py), so a
    survey that opens or is answered while the client pages is never shown twice."""
    newest_first = state == "answered"
    cards = sorted(cards, key=lambda c: _sort_key(c, state), reverse=newest_first)
    if cursor:
        last = tuple(cursor_read(cursor, scope=scope, size=2))
        cards = [
            c
            for c in cards
            if (_sort_key(c, state) < last if newest_first else _sort_key(c, state) > last)
        ]
    rows = cards[:limit]
    next_cursor = None
    if len(cards) > limit:
        next_cursor = cursor_make(list(_sort_key(rows[-1], state)), scope=scope)
    return rows, next_cursor


@router.get(
    "/",
    auth=signed_in,
    response={200: SurveyListOut, **READ_ANSWERS},
    summary="本家庭的问卷：待填写的（默认）或已填写的",
)
def survey_list(request, query: Query[SurveyListQuery]):
    require_scope(request, "read")
    family = _family(request)
    if query.state == "answered":
        rows = selectors.surveys_answered_by_family(family=family)
    else:
        rows = selectors.surveys_open_for_family(family=family)
    cards = [_card(row, answered=query.state == "answered") for row in rows]
    items, next_cursor = _page(
        cards,
        state=query.state,
        cursor=query.cursor,
        limit=query.limit,
        scope=f"surveys:{family.pk}:{query.state}",
    )
    return SurveyListOut(items=items, next_cursor=next_cursor, limit=query.limit)


# The answer sheet ---------------------------------------------------------------------


class SurveyOptionOut(Schema):
    value: int = Field(description="作答时提交的选项序号（从 0 起）")
    label: str


class SurveyConditionOut(Schema):
    key: str = Field(description="前面一道题的代码")
    values: list[int] = Field(description="那道题的答案是其中之一时（多选：选中其中任一项）才显示")


class SurveyQuestionOut(Schema):
    key: str = Field(description="题目代码：答案按它提交")
    kind: str = Field(
        description="single 单选 · multiple 多选 · rating 评分 1–5 · nps 推荐度 0–10 · "
        "short_text 简答 · long_text 详答"
    )
    kind_label: str
    section: str = Field(description="所属部分的标题")
    label: str
    help_text: str
    required: bool = Field(description="显示时必答")
    options: list[SurveyOptionOut] = Field(default_factory=list, description="单选、多选题的选项")
    min_value: int | None = Field(None, description="评分、推荐度的最小分")
    max_value: int | None = Field(None, description="评分、推荐度的最大分")
    max_length: int | None = Field(None, description="简答、详答的最多字数")
    show_if: SurveyConditionOut | None = Field(None, description="显示条件；null 为总是显示")
    visible: bool = Field(description="按目前的答案（草稿）是否显示")


class SurveySheetOut(Schema):
    id: int
    title: str
    scope: str
    scope_label: str
    is_anonymous: bool = Field(
        description="匿名问卷：只记录本家庭已填写，答卷不带家庭、不带时间，分批汇总"
    )
    opens_at: datetime.datetime | None = None
    closes_at: datetime.datetime | None = None
    questions: list[SurveyQuestionOut]
    answers: dict[str, int | list[int] | str] = Field(
        description="草稿中已保存的答案（题目代码 → 答案）"
    )
    step: int = Field(description="上次填到的题目页（从 0 起），用于继续作答")


SCALES = {Question.Kind.RATING: (1, 5), Question.Kind.NPS: (0, 10)}
TEXT_LIMITS = {Question.Kind.SHORT_TEXT: SHORT_TEXT_MAX, Question.Kind.LONG_TEXT: LONG_TEXT_MAX}


def _question_out(question: Question, *, keys: dict[int, str], visible: bool) -> SurveyQuestionOut:
    low, high = SCALES.get(question.kind, (None, None))
    condition = None
    if question.show_if_id is not None and question.show_if_id in keys:
        condition = SurveyConditionOut(
            key=keys[question.show_if_id], values=list(question.show_if_values or [])
        )
    return SurveyQuestionOut(
        key=question.key,
        kind=question.kind,
        kind_label=question.get_kind_display(),
        section=question.section.title,
        label=question.label,
        help_text=question.help_text,
        required=question.required,
        options=[
            SurveyOptionOut(value=index, label=label)
            for index, label in enumerate(question.options or [])
        ],
        min_value=low,
        max_value=high,
        max_length=TEXT_LIMITS.get(question.kind),
        show_if=condition,
        visible=visible,
    )


def _sheet_out(request, survey_id: int) -> SurveySheetOut:
    """The answer sheet as the family reads it now (after a draft is saved too)."""
    with _for_family():
        sheet = selectors.answer_sheet(user=request.user, survey_id=survey_id)
    survey = sheet.survey
    opens_at, closes_at = selectors.survey_window(survey)
    questions = list(sheet.questions)
    keys = {q.pk: q.key for q in questions}
    visible = set(sheet.visible_keys)
    return SurveySheetOut(
        id=survey.pk,
        title=survey.title,
        scope=survey.scope,
        scope_label=survey.get_scope_display(),
        is_anonymous=survey.is_anonymous,
        opens_at=opens_at,
        closes_at=closes_at,
        questions=[_question_out(q, keys=keys, visible=q.key in visible) for q in questions],
        answers=dict(sheet.answers or {}),
        step=sheet.step or 0,
    )


SurveyId = Path(..., ge=1, le=MAX_ID, description="问卷的 id")


@router.get(
    "/{survey_id}",
    auth=signed_in,
    response={200: SurveySheetOut, **READ_ANSWERS},
    summary="一份问卷的答题页：题目、题型、选项、显示条件，草稿中的答案与进度",
)
def survey_sheet(request, survey_id: int = SurveyId):
    require_scope(request, "read")
    _family(request)
    return _sheet_out(request, survey_id)


# The draft and the submission ---------------------------------------------------------


class SurveyDraftIn(Schema):
    answers: Answers = Field(default_factory=dict)
    step: int | None = Field(
        None, ge=0, le=STEP_MAX, description="填到的题目页（从 0 起）；不给则不变"
    )


@router.put(
    "/{survey_id}/draft",
    auth=signed_in,
    response={200: SurveySheetOut, **WRITE_ANSWERS},
    summary="保存草稿：给出的答案并入已保存的草稿（可随时继续作答）",
)
def survey_draft_save(request, payload: SurveyDraftIn, survey_id: int = SurveyId):
    require_scope(request, "write")
    _family(request)
    with _for_family():
        services.draft_save(
            user=request.user, survey_id=survey_id, answers=payload.answers, step=payload.step
        )
    return _sheet_out(request, survey_id)


class SurveySubmitIn(Schema):
    answers: Answers = Field(default_factory=dict)


class SurveySubmitOut(Schema):
    survey_id: int
    answered_at: datetime.datetime
    is_anonymous: bool
    message: str


@router.post(
    "/{survey_id}/submit",
    auth=signed_in,
    response={201: SurveySubmitOut, **WRITE_ANSWERS},
    summary="提交问卷：草稿与给出的答案一起提交，每个家庭只能提交一次",
)
@idempotent
def survey_submit(request, payload: SurveySubmitIn, survey_id: int = SurveyId):
    require_scope(request, "write")
    _family(request)
    with _for_family():
        participation = services.response_submit(
            user=request.user, survey_id=survey_id, answers=payload.answers
        )
    survey = participation.survey
    if survey.is_anonymous:
        message = _("感谢您的填写！这是匿名问卷，您的答卷将与其他家庭的答卷一起分批汇总。")
    else:
        message = _("感谢您的填写！")
    return 201, SurveySubmitOut(
        survey_id=survey.pk,
        answered_at=participation.answered_at,
        is_anonymous=survey.is_anonymous,
        message=str(message),
    )
