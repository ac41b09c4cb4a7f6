"""The family's pages of the surveys app: open questionnaires, answering, drafts.

Thin: ``surveys.selectors`` read (and decide who may answer: ``answer_sheet``
raises a SurveyError for a survey the family may not answer), ``surveys.services``
write (``draft_save`` on every screen, ``response_submit`` at the end). Question
screens are numbered by the question's place in the whole questionnaire (1-based),
so a screen's address does not move when a condition hides another question;
a hidden question's screen sends the family on to the next visible one.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from members.decorators import family_required

from . import selectors, services
from .errors import SurveyError
from .forms import AnswerForm, answer_display
from .models import Survey

# SurveyError codes shown on the friendly "cannot answer" page (anything else with a
# survey is a 404, like a survey that does not exist).
UNAVAILABLE_CODES = {
    "not_eligible",
    "not_open",
    "closed",
    "not_published",
    "already_answered",
    "series_not_answerable",
}
UNAVAILABLE_TITLES = {
    "already_answered": gettext_lazy("您的家庭已经填写过这份问卷"),
    "not_eligible": gettext_lazy("这份问卷不需要您的家庭填写"),
    "not_open": gettext_lazy("这份问卷还没有开始"),
    "closed": gettext_lazy("这份问卷已截止"),
    "not_published": gettext_lazy("这份问卷还没有开始"),
    "series_not_answerable": gettext_lazy("请填写具体场次的问卷"),
}


def about(survey: Survey) -> str:
    """What a survey is about, in a few words: the session or event (with its date),
    the course, the parent school's term or the alliance's term."""
    from django.utils import timezone

    if survey.offering_id:
        day = timezone.localtime(survey.offering.starts_at).strftime("%Y-%m-%d")
        return f"{survey.offering.title} · {day}"
    if survey.course_id:
        return survey.course.title
    if survey.parent_school_id:
        return f"{survey.parent_school.name} · {survey.term}"
    if survey.alliance_id:
        return f"{survey.alliance.name} · {survey.term}"
    if survey.group_id:
        return f"{survey.group.name} · {survey.term}"
    return str(survey.term)


_family_required = family_required(SurveyError("no_family").message)


def _unavailable(request, error: SurveyError, survey_id: int):
    """The friendly page for a survey the family cannot answer (now or any more)."""
    if error.code not in UNAVAILABLE_CODES:
        raise Http404(error.message)
    return render(
        request,
        "surveys/answer_unavailable.html",
        {
            "title": UNAVAILABLE_TITLES.get(error.code, _("暂时不能填写这份问卷")),
            "message": error.message,
            "code": error.code,
        },
    )


def _sheet_or_response(request, survey_id: int):
    """(sheet, None), or (None, the page to show instead)."""
    try:
        return selectors.answer_sheet(user=request.user, survey_id=survey_id), None
    except SurveyError as error:
        if error.code == "no_family":
            messages.error(request, error.message)
            return None, redirect("members:family")
        return None, _unavailable(request, error, survey_id)


def _visible(sheet, answers: dict) -> list:
    return selectors.visible_questions(sheet.questions, answers)


def _screen_of(sheet, question) -> int:
    """The 1-based screen number of ``question`` (its place in the questionnaire)."""
    return sheet.questions.index(question) + 1


def _progress(sheet, answers: dict, question) -> tuple[int, int]:
    """(its place among the questions shown, how many are shown) for 「第 3 / 8 题」."""
    visible = _visible(sheet, answers)
    place = visible.index(question) + 1 if question in visible else 1
    return place, len(visible)


# --- 我的问卷 -------------------------------------------------------------------------


@login_required
@require_safe
@_family_required
def my_surveys(request, family):
    open_surveys = selectors.surveys_open_for_family(family=family)
    answered = selectors.surveys_answered_by_family(family=family)
    # What each is about (about()): the selectors join it (FAMILY_LIST_RELATIONS).
    return render(
        request,
        "surveys/my_surveys.html",
        {
            "open_surveys": [
                {"survey": s, "about": about(s), "closes_at": selectors.survey_window(s)[1]}
                for s in open_surveys
            ],
            "answered": [_answered_row(row) for row in answered],
        },
    )


def _answered_row(row) -> dict:
    """An answered survey for the list (the selector gives a Survey, or an object
    with ``survey`` and ``answered_at``)."""
    survey = getattr(row, "survey", row)
    return {
        "survey": survey,
        "about": about(survey),
        "answered_at": getattr(row, "answered_at", None),
    }


# --- answering ------------------------------------------------------------------------


@login_required
@require_safe
def answer_start(request, survey_id: int):
    """The questionnaire's first page: what it is about, anonymity, and 开始 or 继续."""
    sheet, page = _sheet_or_response(request, survey_id)
    if page is not None:
        return page
    visible = _visible(sheet, sheet.answers)
    resume = None
    if sheet.answers:
        resume = _resume_screen(sheet, visible)
    return render(
        request,
        "surveys/answer_start.html",
        {
            "survey": sheet.survey,
            "about": about(sheet.survey),
            "closes_at": selectors.survey_window(sheet.survey)[1],
            "question_count": len(visible),
            "first_screen": _screen_of(sheet, visible[0]) if visible else None,
            "resume": resume,
            "has_draft": bool(sheet.answers),
        },
    )


def _resume_screen(sheet, visible) -> dict:
    """Where a draft resumes: its step's screen (or the next visible one), or the
    review page once every screen was passed."""
    step = sheet.step or 0
    for question in visible:
        index = sheet.questions.index(question)
        if index >= step:
            return {"screen": index + 1, "place": visible.index(question) + 1}
    return {"screen": None, "place": None}


@login_required
@require_http_methods(["GET", "POST"])
def answer_question(request, survey_id: int, n: int):
    sheet, page = _sheet_or_response(request, survey_id)
    if page is not None:
        return page
    if not 1 <= n <= len(sheet.questions):
        raise Http404(_("没有这道题。"))
    question = sheet.questions[n - 1]
    answers = dict(sheet.answers)
    if question not in _visible(sheet, answers):
        # A condition hides it: on to the next question shown (or the review).
        return redirect(_next_url(sheet, answers, n - 1))

    if request.method == "POST":
        form = AnswerForm(request.POST, question=question)
        going_back = request.POST.get("move") == "prev"
        if form.is_valid():
            value = form.value()
            if value is None and question.required and not going_back:
                form.require()
            else:
                return _save_and_move(request, sheet, question, answers, value, going_back)
    else:
        form = AnswerForm(initial={"answer": answers.get(question.key)}, question=question)
    place, total = _progress(sheet, answers, question)
    return render(
        request,
        "surveys/answer_question.html",
        {
            "survey": sheet.survey,
            "question": question,
            "form": form,
            "place": place,
            "total": total,
            "has_previous": _previous_screen(sheet, answers, n - 1) is not None,
        },
        status=200,
    )


def _save_and_move(request, sheet, question, answers: dict, value, going_back: bool):
    survey_id = sheet.survey.pk
    index = sheet.questions.index(question)
    if value is None:
        answers.pop(question.key, None)
    else:
        answers[question.key] = value
    if going_back:
        target = _previous_screen(sheet, answers, index)
        step = (target - 1) if target else index
    else:
        target = _next_screen(sheet, answers, index)
        step = (target - 1) if target else len(sheet.questions)
    try:
        services.draft_save(
            user=request.user,
            survey_id=survey_id,
            answers={question.key: value},  # None: the draft forgets it
            step=step,
        )
    except SurveyError as error:
        if error.code in UNAVAILABLE_CODES or error.code.endswith("_missing"):
            return _unavailable(request, error, survey_id)
        messages.error(request, error.message)
        return redirect("surveys:question", survey_id=survey_id, n=index + 1)
    if target is None:
        return redirect("surveys:start" if going_back else "surveys:review", survey_id=survey_id)
    return redirect("surveys:question", survey_id=survey_id, n=target)


def _next_screen(sheet, answers: dict, index: int) -> int | None:
    visible = {q.pk for q in _visible(sheet, answers)}
    for later in range(index + 1, len(sheet.questions)):
        if sheet.questions[later].pk in visible:
            return later + 1
    return None


def _previous_screen(sheet, answers: dict, index: int) -> int | None:
    visible = {q.pk for q in _visible(sheet, answers)}
    for earlier in range(index - 1, -1, -1):
        if sheet.questions[earlier].pk in visible:
            return earlier + 1
    return None


def _next_url(sheet, answers: dict, index: int) -> str:
    from django.urls import reverse

    target = _next_screen(sheet, answers, index)
    if target is None:
        return reverse("surveys:review", kwargs={"survey_id": sheet.survey.pk})
    return reverse("surveys:question", kwargs={"survey_id": sheet.survey.pk, "n": target})


@login_required
@require_http_methods(["GET", "POST"])
def answer_review(request, survey_id: int):
    """All answers with 修改 links; 提交 sends the sheet (response_submit)."""
    sheet, page = _sheet_or_response(request, survey_id)
    if page is not None:
        return page
    problem_key = None
    if request.method == "POST":
        try:
            services.response_submit(user=request.user, survey_id=survey_id)
        except SurveyError as error:
            if error.code in UNAVAILABLE_CODES or error.code.endswith("_missing"):
                return _unavailable(request, error, survey_id)
            messages.error(request, error.message)
            problem_key = error.field
        else:
            return redirect("surveys:done", survey_id=survey_id)
    rows = []
    for question in _visible(sheet, sheet.answers):
        value = sheet.answers.get(question.key)
        shown = answer_display(question, value)
        rows.append(
            {
                "question": question,
                "screen": _screen_of(sheet, question),
                "shown": shown,
                "missing": question.required and not shown,
                "problem": question.key == problem_key,
            }
        )
    return render(
        request,
        "surveys/answer_review.html",
        {
            "survey": sheet.survey,
            "about": about(sheet.survey),
            "rows": rows,
            "missing": [row for row in rows if row["missing"]],
        },
    )


@login_required
@require_safe
def answer_done(request, survey_id: int):
    """感谢您的反馈 — for a family that has answered; anyone else goes to the start."""
    try:
        selectors.answer_sheet(user=request.user, survey_id=survey_id)
    except SurveyError as error:
        if error.code == "already_answered":
            survey = Survey.objects.filter(pk=survey_id).only("pk", "title", "is_anonymous").first()
            return render(request, "surveys/answer_done.html", {"survey": survey})
        if error.code == "no_family":
            messages.error(request, error.message)
            return redirect("members:family")
        return _unavailable(request, error, survey_id)
    return redirect("surveys:start", survey_id=survey_id)
