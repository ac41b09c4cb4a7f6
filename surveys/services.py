"""Writes of the questionnaires (docs/SURVEYS.md): templates in versions, surveys,
drafts, answers, the anonymous release, invitations and reminders.

Every answer goes through ``response_submit``; the pages, the API and tests call
it. One answer per family per survey is held by ``Participation``'s unique
constraint, whatever the browser, login or guardian.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.locking import bounded_atomic
from bookings.models import Offering
from courses.models import Course, CourseSession
from events.services import notice_send
from groups.models import Group
from groups.selectors import groups_changeable_by
from members import access
from members.models import Alliance, Membership
from members.sealing import SealError, seal, unseal
from members.services import audit_log_record
from parent_school.models import ParentSchool, Term

from . import selectors
from .eligibility import eligible_families
from .errors import SurveyError
from .models import (
    Answer,
    Draft,
    Invitation,
    Participation,
    PendingResponse,
    Question,
    Response,
    Section,
    Survey,
    SurveyTemplate,
    TemplateVersion,
)
from .selectors import DRAFT_PURPOSE, PENDING_PURPOSE, survey_window
from .signals import responses_changed

INVITE_TOPIC = "surveys.invite"
REMIND_TOPIC = "surveys.remind"
# Families per transaction when inviting or reminding: a term survey may reach
# 200,000 families; 1000 keeps each transaction short and the outbox rows flowing.
NOTICE_CHUNK = 1000
SHORT_TEXT_MAX = 500
LONG_TEXT_MAX = 2000
OPTIONS_MIN, OPTIONS_MAX, OPTION_MAX_CHARS = 2, 20, 100
CONDITION_KINDS = (
    Question.Kind.SINGLE,
    Question.Kind.MULTIPLE,
    Question.Kind.RATING,
    Question.Kind.NPS,
)
_random = random.SystemRandom()
# Control characters refused in text answers (newline and tab are kept).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A term survey's families are scanned for new invitations at most this often.
TERM_INVITE_RESCAN = dt.timedelta(hours=1)


def _locked_atomic():
    return bounded_atomic(lambda: SurveyError("busy"))


def _now(now):
    return now or timezone.now()


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


# Answers ----------------------------------------------------------------------------


def _as_int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


def _is_empty(value) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def answer_clean(question: Question, value):
    """``value`` for ``question`` in the one answers format, or SurveyError naming it."""
    label = {"question": question.label}
    kind = question.kind
    if kind == Question.Kind.RATING:
        number = _as_int(value)
        if number is None or not 1 <= number <= 5:
            raise SurveyError("rating_invalid", field=question.key, **label)
        return number
    if kind == Question.Kind.NPS:
        number = _as_int(value)
        if number is None or not 0 <= number <= 10:
            raise SurveyError("nps_invalid", field=question.key, **label)
        return number
    if kind == Question.Kind.SINGLE:
        number = _as_int(value)
        if number is None or not 0 <= number < len(question.options):
            raise SurveyError("choice_invalid", field=question.key, **label)
        return number
    if kind == Question.Kind.MULTIPLE:
        values = value if isinstance(value, (list, tuple)) else [value]
        numbers = [_as_int(v) for v in values]
        if any(n is None or not 0 <= n < len(question.options) for n in numbers):
            raise SurveyError("choice_invalid", field=question.key, **label)
        return sorted(set(numbers))
    if not isinstance(value, str):
        raise SurveyError("text_invalid", field=question.key, **label)
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if CONTROL_CHARS.search(text):
        # NUL cannot be stored in PostgreSQL text; the others are never typed.
        raise SurveyError("text_control_chars", field=question.key, **label)
    limit = SHORT_TEXT_MAX if kind == Question.Kind.SHORT_TEXT else LONG_TEXT_MAX
    if len(text) > limit:
        raise SurveyError("text_too_long", field=question.key, n=limit, **label)
    return text


def answers_clean(questions: list[Question], answers) -> dict:
    """Each given answer checked against its question's kind; empty ones dropped."""
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise SurveyError("answers_invalid")
    by_key = {q.key: q for q in questions}
    cleaned = {}
    for key, value in answers.items():
        question = by_key.get(str(key))
        if question is None:
            raise SurveyError("question_unknown", field=str(key), key=str(key)[:40])
        if _is_empty(value):
            cleaned[question.key] = None
            continue
        cleaned[question.key] = answer_clean(question, value)
    return cleaned


def answers_final(questions: list[Question], answers: dict) -> dict:
    """The answers as submitted: hidden questions' answers dropped, every visible
    required question answered (else SurveyError naming the first missing one)."""
    present = {k: v for k, v in answers.items() if not _is_empty(v)}
    visible = selectors.visible_questions(questions, present)
    final = {}
    for question in visible:
        if question.key in present:
            final[question.key] = present[question.key]
        elif question.required:
            raise SurveyError("answer_required", field=question.key, question=question.label)
    return final


def _answer_rows(response: Response, questions: list[Question], answers: dict) -> list[Answer]:
    by_key = {q.key: q for q in questions}
    rows = []
    for key, value in answers.items():
        question = by_key[key]
        if question.kind in Question.TEXT_KINDS:
            rows.append(Answer(response=response, question=question, text=value))
        elif isinstance(value, list):
            rows.extend(Answer(response=response, question=question, number=v) for v in value)
        else:
            rows.append(Answer(response=response, question=question, number=value))
    return rows


# Drafts and answering ---------------------------------------------------------------


def draft_save(*, user, survey_id: int, answers: dict, step: int | None = None) -> Draft:
    """Save answers in progress (types checked, merged into the family's draft;
    an empty value clears that answer). Two tabs at once share one draft."""
    now = timezone.now()
    family = selectors.family_required(user)
    survey = selectors.survey_answerable(family=family, survey_id=survey_id, now=now)
    if step is not None and (_as_int(step) is None or _as_int(step) < 0 or _as_int(step) > 500):
        raise SurveyError("step_invalid", field="step")
    with _locked_atomic():
        version = survey.version
        Draft.objects.bulk_create(
            [
                Draft(
                    survey=survey,
                    family=family,
                    version=version,
                    sealed_answers=seal({}, purpose=DRAFT_PURPOSE),
                    step=0,
                    updated_at=now,
                )
            ],
            ignore_conflicts=True,
        )
        draft = Draft.objects.select_for_update().get(survey=survey, family=family)
        questions = selectors.version_questions(survey.version_id)
        keys = {q.key for q in questions}
        merged = {k: v for k, v in selectors.draft_answers(draft).items() if k in keys}
        for key, value in answers_clean(questions, answers).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        draft.sealed_answers = seal(merged, purpose=DRAFT_PURPOSE)
        if step is not None:
            draft.step = _as_int(step)
        draft.updated_at = now
        draft.version_id = survey.version_id
        draft.save(update_fields=["sealed_answers", "step", "updated_at", "version"])
    return draft


def response_submit(
    *, user, survey_id: int, answers: dict | None = None, now: dt.datetime | None = None
) -> Participation:
    """Submit the family's answers (the draft's merged with ``answers``), once.

    Named: a Response with the family and its Answers. Anonymous: a sealed
    PendingResponse with no family and no time; a worker releases it in a batch
    after the commit. Either way with the Participation in the same transaction,
    so two submits at once (two browsers, two guardians) leave one answer and the
    other is told ``already_answered``."""
    now = _now(now)
    family = selectors.family_required(user)
    survey = selectors.survey_answerable(family=family, survey_id=survey_id, now=now)
    draft = Draft.objects.filter(survey=survey, family=family).first()
    # Every answer of a survey has the survey's version: nothing about a response
    # tells when it was given.
    version_id = survey.version_id
    questions = selectors.version_questions(version_id)
    merged = {
        k: v for k, v in selectors.draft_answers(draft).items() if k in {q.key for q in questions}
    }
    for key, value in answers_clean(questions, answers).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    final = answers_final(questions, merged)
    with _locked_atomic():
        try:
            with transaction.atomic():
                participation = Participation.objects.create(
                    survey=survey, family=family, answered_at=now
                )
        except IntegrityError as error:
            raise SurveyError("already_answered") from error
        if survey.is_anonymous:
            PendingResponse.objects.create(
                survey=survey,
                version_id=version_id,
                sealed_answers=seal(final, purpose=PENDING_PURPOSE),
            )
            transaction.on_commit(lambda: _release_enqueue(survey.pk))
        else:
            response = Response.objects.create(
                survey=survey,
                version_id=version_id,
                family=family,
                submitted_by=user,
                submitted_at=now,
            )
            Answer.objects.bulk_create(_answer_rows(response, questions, final))
        Draft.objects.filter(survey=survey, family=family).delete()
        responses_changed.send(sender=Survey, survey_ids=[survey.pk])
    return participation


def _release_enqueue(survey_id: int, final: bool = False) -> None:
    from .tasks import survey_release

    survey_release.delay(survey_id, final)


# Anonymous release ------------------------------------------------------------------


def anonymous_release(*, survey_id: int, final: bool = False) -> int:
    """Release waiting anonymous responses, under the survey's row lock, one
    transaction per batch: while at least 2 × SURVEYS_ANONYMOUS_BATCH wait, BATCH
    of them chosen at random become Responses (no family, user or time; written in
    shuffled order) — so at least BATCH always stay waiting for the last batch.
    ``final`` (the survey closed): all that remain, as one new batch, which holds
    at least BATCH whenever the survey got BATCH answers. No batch is ever merged
    or rewritten. Returns responses released."""
    size = max(1, settings.SURVEYS_ANONYMOUS_BATCH)
    released = 0
    while True:
        with _locked_atomic():
            survey = Survey.objects.select_for_update(of=("self",)).filter(pk=survey_id).first()
            if survey is None or not survey.is_anonymous:
                return released
            pending = list(PendingResponse.objects.filter(survey_id=survey_id))
            if final and pending:
                chosen = pending
            elif len(pending) >= 2 * size:
                chosen = _random.sample(pending, size)
            else:
                return released
            number = survey.released_batches + 1
            _release_rows(survey, chosen, number)
            survey.released_batches = number
            survey.save(update_fields=["released_batches"])
            responses_changed.send(sender=Survey, survey_ids=[survey_id])
            released += len(chosen)
            if final:
                return released


def _release_rows(survey: Survey, pending: list[PendingResponse], number: int) -> None:
    _random.shuffle(pending)
    questions_by_version: dict[int, list[Question]] = {}
    responses, answer_rows = [], []
    for row in pending:
        try:
            answers = unseal(row.sealed_answers, purpose=PENDING_PURPOSE)
        except SealError:
            answers = None
        if row.version_id not in questions_by_version:
            questions_by_version[row.version_id] = selectors.version_questions(row.version_id)
        response = Response(survey=survey, version_id=row.version_id, batch=number)
        responses.append(response)
        if isinstance(answers, dict):
            questions = questions_by_version[row.version_id]
            keys = {q.key for q in questions}
            answer_rows.extend(
                _answer_rows(response, questions, {k: v for k, v in answers.items() if k in keys})
            )
    Response.objects.bulk_create(responses)
    _random.shuffle(answer_rows)
    Answer.objects.bulk_create(answer_rows)
    PendingResponse.objects.filter(pk__in=[row.pk for row in pending]).delete()


# Templates and versions -------------------------------------------------------------

NAME_MAX, DESCRIPTION_MAX, SECTION_TITLE_MAX, LABEL_MAX, HELP_MAX, TITLE_MAX = (
    80,
    1000,
    80,
    200,
    200,
    120,
)


def _template_for_change(actor, template_id: int) -> SurveyTemplate:
    template = SurveyTemplate.objects.filter(pk=template_id).first()
    if template is None:
        raise SurveyError("template_missing")
    if not selectors.template_editable_by(actor, template):
        raise SurveyError("template_not_allowed")
    return template


def _template_fields_check(*, name: str, description: str) -> tuple[str, str]:
    name = " ".join(str(name or "").split())
    description = str(description or "").strip()
    if not name:
        raise SurveyError("name_required", field="name")
    if len(name) > NAME_MAX:
        raise SurveyError("name_too_long", field="name", n=NAME_MAX)
    if len(description) > DESCRIPTION_MAX:
        raise SurveyError("description_too_long", field="description", n=DESCRIPTION_MAX)
    return name, description


def _name_taken(alliance_id, name, exclude_pk=None) -> bool:
    taken = SurveyTemplate.objects.filter(alliance_id=alliance_id, name=name)
    if exclude_pk:
        taken = taken.exclude(pk=exclude_pk)
    return taken.exists()


def template_create(
    *, actor, alliance_id: int | None, name: str, description: str = ""
) -> SurveyTemplate:
    """A template with version 1 and one empty section 「第一部分」. District
    templates (``alliance_id`` None) by district admins; an alliance's by its
    coordinators."""
    name, description = _template_fields_check(name=name, description=description)
    if alliance_id is not None and not Alliance.objects.filter(pk=alliance_id).exists():
        raise SurveyError("target_missing", field="alliance", what=_("联盟"))
    probe = SurveyTemplate(alliance_id=alliance_id)
    if not selectors.template_editable_by(actor, probe):
        raise SurveyError("template_not_allowed")
    if _name_taken(alliance_id, name):
        raise SurveyError("name_taken", field="name", name=name)
    try:
        with transaction.atomic():
            template = SurveyTemplate.objects.create(
                alliance_id=alliance_id, name=name, description=description, created_by=actor
            )
            version = TemplateVersion.objects.create(template=template, number=1)
            Section.objects.create(version=version, title=_("第一部分"), position=0)
            audit_log_record(
                actor=actor,
                action="surveys.template.create",
                target=template,
                data={"alliance": alliance_id},
            )
    except IntegrityError as error:
        raise SurveyError("name_taken", field="name", name=name) from error
    return template


def template_update(
    *, actor, template_id: int, name: str, description: str, is_active: bool
) -> SurveyTemplate:
    template = _template_for_change(actor, template_id)
    name, description = _template_fields_check(name=name, description=description)
    if _name_taken(template.alliance_id, name, exclude_pk=template.pk):
        raise SurveyError("name_taken", field="name", name=name)
    template.name, template.description, template.is_active = name, description, bool(is_active)
    with transaction.atomic():
        template.save(update_fields=["name", "description", "is_active"])
        audit_log_record(actor=actor, action="surveys.template.change", target=template)
    return template


def version_has_answers(version_id: int) -> bool:
    """Whether the version is in use: answered, waiting, in a draft, or pinned by a
    published survey (whose families must keep the questions they were shown)."""
    return (
        Survey.objects.filter(version_id=version_id, is_published=True).exists()
        or Response.objects.filter(version_id=version_id).exists()
        or PendingResponse.objects.filter(version_id=version_id).exists()
        or Draft.objects.filter(version_id=version_id).exists()
    )


def _sections_of(version_id: int) -> list[Section]:
    return list(Section.objects.filter(version_id=version_id).order_by("position", "pk"))


def _writable_version(template: SurveyTemplate) -> TemplateVersion:
    """The version to edit, under the template's lock: the current one, or — when
    it has responses, waiting anonymous responses or drafts, or a published survey
    is pinned to it — a copy of it as number + 1 (sections, questions with their
    keys, conditions remapped). Unpublished surveys of the old version move to the
    copy (nobody has seen them); published ones keep theirs."""
    SurveyTemplate.objects.select_for_update().filter(pk=template.pk).first()
    current = selectors.current_version(template.pk)
    if not version_has_answers(current.pk):
        return current
    copy = TemplateVersion.objects.create(template=template, number=current.number + 1)
    section_map = {}
    for section in _sections_of(current.pk):
        section_map[section.pk] = Section.objects.create(
            version=copy, title=section.title, position=section.position
        )
    question_map: dict[int, Question] = {}
    old_questions = selectors.version_questions(current.pk)
    for question in old_questions:
        question_map[question.pk] = Question.objects.create(
            version=copy,
            section=section_map[question.section_id],
            key=question.key,
            kind=question.kind,
            label=question.label,
            help_text=question.help_text,
            required=question.required,
            options=list(question.options),
            position=question.position,
            show_if_values=list(question.show_if_values),
            measure=question.measure,
        )
    for question in old_questions:
        if question.show_if_id in question_map:
            new = question_map[question.pk]
            new.show_if = question_map[question.show_if_id]
            new.save(update_fields=["show_if"])
    Survey.objects.filter(version=current, is_published=False).update(version=copy)
    return copy


def _section_in(version: TemplateVersion, section_id: int) -> Section:
    """The section of ``version`` meant by ``section_id`` (an id of an older version
    of the template maps to the section at the same place)."""
    section = Section.objects.filter(
        pk=section_id, version__template_id=version.template_id
    ).first()
    if section is None:
        raise SurveyError("section_missing", field="section")
    if section.version_id == version.pk:
        return section
    index = [s.pk for s in _sections_of(section.version_id)].index(section.pk)
    mine = _sections_of(version.pk)
    if index >= len(mine):
        raise SurveyError("section_missing", field="section")
    return mine[index]


def _question_in(version: TemplateVersion, question_id: int, field="question") -> Question:
    """The question of ``version`` meant by ``question_id`` (by key across versions)."""
    question = Question.objects.filter(
        pk=question_id, version__template_id=version.template_id
    ).first()
    if question is None:
        raise SurveyError("question_missing", field=field)
    if question.version_id == version.pk:
        return question
    mapped = Question.objects.filter(version=version, key=question.key).first()
    if mapped is None:
        raise SurveyError("question_missing", field=field)
    return mapped


def section_save(*, actor, template_id: int, section_id: int | None, title: str) -> Section:
    template = _template_for_change(actor, template_id)
    title = " ".join(str(title or "").split())
    if not title:
        raise SurveyError("section_title_required", field="title")
    if len(title) > SECTION_TITLE_MAX:
        raise SurveyError("section_title_too_long", field="title", n=SECTION_TITLE_MAX)
    with transaction.atomic():
        version = _writable_version(template)
        if section_id is None:
            last = Section.objects.filter(version=version).aggregate(m=Max("position"))["m"]
            section = Section.objects.create(
                version=version, title=title, position=0 if last is None else last + 1
            )
        else:
            section = _section_in(version, section_id)
            section.title = title
            section.save(update_fields=["title"])
        audit_log_record(
            actor=actor,
            action="surveys.template.edit",
            target=template,
            data={"version": version.number, "section": section.pk},
        )
    return section


def _next_key(template: SurveyTemplate) -> str:
    """A key never used by any version of the template (q1, q2, …), so a deleted
    question's answers never line up with a new question's."""
    used = Question.objects.filter(version__template=template).values_list("key", flat=True)
    numbers = [int(m.group(1)) for key in used if (m := re.fullmatch(r"q(\d+)", key))]
    n = max(numbers, default=0) + 1
    keys = set(used)
    while f"q{n}" in keys:
        n += 1
    return f"q{n}"


def _options_clean(kind: str, options) -> list[str]:
    options = [str(o).strip() for o in (options or [])]
    if kind not in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
        if any(options):
            raise SurveyError("options_not_allowed", field="options")
        return []
    for n, option in enumerate(options, start=1):
        if not option:
            raise SurveyError("option_empty", field="options", n=n)
        if len(option) > OPTION_MAX_CHARS:
            raise SurveyError("option_too_long", field="options", n=n, max=OPTION_MAX_CHARS)
    if not OPTIONS_MIN <= len(options) <= OPTIONS_MAX:
        raise SurveyError("options_count", field="options", min=OPTIONS_MIN, max=OPTIONS_MAX)
    seen = set()
    for option in options:
        if option in seen:
            raise SurveyError("option_duplicate", field="options", option=option)
        seen.add(option)
    return options


def _condition_values_clean(source: Question, values) -> list[int]:
    numbers = [_as_int(v) for v in (values or [])]
    if not numbers:
        raise SurveyError("show_if_values_required", field="show_if_values")
    if source.kind in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
        valid = range(len(source.options))
    elif source.kind == Question.Kind.RATING:
        valid = range(1, 6)
    else:
        valid = range(0, 11)
    if any(n is None or n not in valid for n in numbers):
        raise SurveyError("show_if_values_invalid", field="show_if_values", question=source.label)
    return sorted(set(numbers))


def _order_key(question: Question, sections: list[Section]) -> tuple:
    index = {s.pk: i for i, s in enumerate(sections)}
    return (index.get(question.section_id, -1), question.position, question.pk)


def question_save(
    *,
    actor,
    template_id: int,
    question_id: int | None,
    section_id: int,
    kind: str,
    label: str,
    help_text: str = "",
    required: bool = True,
    options: Iterable[str] = (),
    show_if_id: int | None = None,
    show_if_values: Iterable[int] = (),
    measure: str = "",
) -> Question:
    """Add (at the end of its section) or change a question, in the writable version."""
    template = _template_for_change(actor, template_id)
    if kind not in Question.Kind.values:
        raise SurveyError("kind_invalid", field="kind")
    label = " ".join(str(label or "").split())
    help_text = str(help_text or "").strip()
    if not label:
        raise SurveyError("label_required", field="label")
    if len(label) > LABEL_MAX:
        raise SurveyError("label_too_long", field="label", n=LABEL_MAX)
    if len(help_text) > HELP_MAX:
        raise SurveyError("help_text_too_long", field="help_text", n=HELP_MAX)
    options = _options_clean(kind, options)
    measure = measure or ""
    if measure not in Question.Measure.values:
        raise SurveyError("measure_invalid", field="measure")
    if measure == Question.Measure.SATISFACTION and kind != Question.Kind.RATING:
        raise SurveyError("measure_needs_rating", field="measure")
    with transaction.atomic():
        version = _writable_version(template)
        section = _section_in(version, section_id)
        sections = _sections_of(version.pk)
        if question_id is None:
            last = Question.objects.filter(section=section).aggregate(m=Max("position"))["m"]
            question = Question(
                version=version,
                key=_next_key(template),
                position=0 if last is None else last + 1,
            )
        else:
            question = _question_in(version, question_id)
            if question.section_id != section.pk:
                last = Question.objects.filter(section=section).aggregate(m=Max("position"))["m"]
                question.position = 0 if last is None else last + 1
        question.section = section
        source = None
        values: list[int] = []
        if show_if_id:
            source = _question_in(version, show_if_id, field="show_if")
            if (
                source.kind not in CONDITION_KINDS
                or source.pk == question.pk
                or (_order_key(source, sections) >= _order_key(question, sections))
            ):
                raise SurveyError("show_if_invalid", field="show_if")
            values = _condition_values_clean(source, show_if_values)
        if question.pk:
            # A question others depend on keeps a kind and options their values fit.
            for dependant in Question.objects.filter(version=version, show_if=question):
                probe = Question(kind=kind, options=options, label=label)
                try:
                    _condition_values_clean(probe, dependant.show_if_values)
                except SurveyError as error:
                    raise SurveyError(
                        "question_is_condition", field="kind", question=label
                    ) from error
                if kind not in CONDITION_KINDS:
                    raise SurveyError("question_is_condition", field="kind", question=label)
        question.kind, question.label, question.help_text = kind, label, help_text
        question.required, question.options, question.measure = bool(required), options, measure
        question.show_if, question.show_if_values = source, values
        question.save()
        audit_log_record(
            actor=actor,
            action="surveys.template.edit",
            target=template,
            data={"version": version.number, "question": question.key},
        )
    return question


def question_delete(*, actor, template_id: int, question_id: int) -> None:
    template = _template_for_change(actor, template_id)
    with transaction.atomic():
        version = _writable_version(template)
        question = _question_in(version, question_id)
        if Question.objects.filter(version=version, show_if=question).exists():
            raise SurveyError("question_is_condition", field="question", question=question.label)
        question.delete()
        audit_log_record(
            actor=actor,
            action="surveys.template.edit",
            target=template,
            data={"version": version.number, "deleted": question.key},
        )


def question_move(*, actor, template_id: int, question_id: int, direction: str) -> None:
    """Move a question one place up or down within its section (a question never
    moves above the question its condition reads)."""
    template = _template_for_change(actor, template_id)
    if direction not in ("up", "down"):
        raise SurveyError("direction_invalid", field="direction")
    with transaction.atomic():
        version = _writable_version(template)
        question = _question_in(version, question_id)
        siblings = list(
            Question.objects.filter(section_id=question.section_id).order_by("position", "pk")
        )
        index = [q.pk for q in siblings].index(question.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(siblings):
            return
        siblings[index], siblings[other] = siblings[other], siblings[index]
        earlier, later = sorted((index, other))
        if siblings[earlier].show_if_id == siblings[later].pk:
            raise SurveyError("show_if_invalid", field="direction")
        for position, sibling in enumerate(siblings):
            if sibling.position != position:
                sibling.position = position
                sibling.save(update_fields=["position"])
        audit_log_record(
            actor=actor,
            action="surveys.template.edit",
            target=template,
            data={"version": version.number, "moved": question.key, "direction": direction},
        )


# Surveys ----------------------------------------------------------------------------


def _term_of_date(when: dt.datetime) -> Term | None:
    day = timezone.localtime(when).date()
    return Term.objects.filter(starts_on__lte=day, ends_on__gte=day).order_by("-starts_on").first()


def _alliance_unit_id(alliance: Alliance) -> int | None:
    """The alliance's base unit (else its lead, else any member): its surveys' unit."""
    memberships = Membership.objects.filter(alliance=alliance, left_on__isnull=True)
    for role in (Membership.Role.BASE, Membership.Role.LEAD, Membership.Role.MEMBER):
        unit_id = (
            memberships.filter(role=role).order_by("pk").values_list("unit_id", flat=True).first()
        )
        if unit_id:
            return unit_id
    return None


def _target_resolve(scope: str, target_id: int, term_id: int | None) -> dict:
    """Survey fields for ``scope`` and ``target_id``: the target, unit and term."""
    missing = {
        Survey.Scope.SESSION: _("课程场次"),
        Survey.Scope.EVENT: _("活动"),
        Survey.Scope.COURSE: _("课程"),
        Survey.Scope.PARENT_SCHOOL_TERM: _("家长学校"),
        Survey.Scope.ALLIANCE_TERM: _("联盟"),
        Survey.Scope.GROUP: _("小组"),
        Survey.Scope.CONSULTATION: _("咨询时段"),
    }
    if scope not in missing:
        raise SurveyError("scope_invalid", field="scope")
    term = None
    if term_id is not None:
        term = Term.objects.filter(pk=term_id).first()
        if term is None:
            raise SurveyError("term_missing", field="term")
    if scope in Survey.ATTENDANCE_SCOPES:
        offering = Offering.objects.filter(pk=target_id).first()
        if offering is None:
            raise SurveyError("target_missing", field="target", what=missing[scope])
        if scope == Survey.Scope.SESSION:
            if offering.kind != Offering.Kind.COURSE_SESSION:
                raise SurveyError("offering_not_session", field="target")
            session = CourseSession.objects.select_related("course").get(offering=offering)
            term = term or session.course.term
        elif scope == Survey.Scope.CONSULTATION:
            # A guidance consultation's slot (guidance puts its satisfaction survey).
            if offering.kind != Offering.Kind.CONSULTATION:
                raise SurveyError("target_missing", field="target", what=missing[scope])
        elif offering.kind != Offering.Kind.EVENT:
            raise SurveyError("offering_not_event", field="target")
        term = (
            term
            or _term_of_date(offering.starts_at)
            or Term.objects.filter(is_current=True).first()
        )
        if term is None:
            raise SurveyError("term_missing", field="term")
        return {
            "offering": offering,
            "unit_id": offering.unit_id,
            "term": term,
            "name": offering.title,
        }
    if scope == Survey.Scope.COURSE:
        course = Course.objects.select_related("parent_school", "term").filter(pk=target_id).first()
        if course is None:
            raise SurveyError("target_missing", field="target", what=missing[scope])
        return {
            "course": course,
            "unit_id": course.parent_school.host_unit_id,
            "term": term or course.term,
            "name": course.title,
        }
    if scope == Survey.Scope.GROUP:
        # Only an active group: a dissolved one has nobody left to ask.
        group = (
            Group.objects.select_related("parent_school")
            .filter(pk=target_id, status=Group.Status.ACTIVE)
            .first()
        )
        if group is None:
            raise SurveyError("target_missing", field="target", what=missing[scope])
        term = term or Term.objects.filter(is_current=True).first()
        if term is None:
            raise SurveyError("term_missing", field="term")
        return {
            "group": group,
            "unit_id": group.parent_school.host_unit_id,
            "term": term,
            "name": group.name,
        }
    if term is None:
        raise SurveyError("term_missing", field="term")
    if scope == Survey.Scope.PARENT_SCHOOL_TERM:
        school = ParentSchool.objects.filter(pk=target_id).first()
        if school is None:
            raise SurveyError("target_missing", field="target", what=missing[scope])
        return {
            "parent_school": school,
            "unit_id": school.host_unit_id,
            "term": term,
            "name": school.name,
        }
    alliance = Alliance.objects.filter(pk=target_id).first()
    unit_id = _alliance_unit_id(alliance) if alliance else None
    if alliance is None or unit_id is None:
        raise SurveyError("target_missing", field="target", what=missing[scope])
    return {"alliance": alliance, "unit_id": unit_id, "term": term, "name": alliance.name}


def _usable_template(
    actor, template_id: int, *, for_group: bool = False
) -> tuple[SurveyTemplate, TemplateVersion]:
    templates = selectors.templates_usable(user=actor)
    if for_group:
        # A group's facilitator need not be a coordinator: the district's own
        # templates are theirs to use too (its managers' templates as before).
        templates = templates | SurveyTemplate.objects.filter(alliance__isnull=True)
    template = templates.filter(pk=template_id).first()
    if template is None:
        raise SurveyError("template_missing", field="template")
    if not template.is_active:
        raise SurveyError("template_inactive", field="template", name=template.name)
    version = selectors.current_version(template.pk)
    if version is None or not Question.objects.filter(version=version).exists():
        raise SurveyError("template_empty", field="template", name=template.name)
    return template, version


def _may_change(actor, *, scope, unit_id, alliance_id=None, group_id=None) -> bool:
    if scope == Survey.Scope.GROUP:
        return groups_changeable_by(actor).filter(pk=group_id).exists()
    if scope == Survey.Scope.ALLIANCE_TERM:
        return access.sees_every_district(actor) or alliance_id in access.coordinated_alliance_ids(
            actor
        )
    return access.can_change_unit(actor, unit_id)


def survey_create(
    *,
    actor,
    template_id: int,
    scope: str,
    target_id: int | None = None,
    group_id: int | None = None,
    term_id: int | None = None,
    title: str = "",
    is_anonymous: bool = False,
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    invite_delay_minutes: int | None = None,
    answer_days: int = 7,
    remind_before_hours: int = 24,
) -> Survey:
    """A survey (unpublished) of a template put to the families of a target.

    A group survey (scope "group", the group as ``group_id`` or ``target_id``) is
    made by those who may manage the group, for the current term unless ``term_id``
    says otherwise; its unit is the group's parent school's host unit."""
    is_group = scope == Survey.Scope.GROUP
    if is_group and group_id is not None:
        target_id = group_id
    template, _version = _usable_template(actor, template_id, for_group=is_group)
    target = _target_resolve(scope, target_id, term_id)
    alliance = target.get("alliance")
    group = target.get("group")
    if not _may_change(
        actor,
        scope=scope,
        unit_id=target["unit_id"],
        alliance_id=alliance.pk if alliance else None,
        group_id=group.pk if group else None,
    ):
        raise SurveyError("not_allowed")
    title = " ".join(str(title or "").split()) or f"{target['name']} · {template.name}"[:TITLE_MAX]
    if len(title) > TITLE_MAX:
        raise SurveyError("title_too_long", field="title", n=TITLE_MAX)
    if (
        scope not in Survey.ATTENDANCE_SCOPES
        and scope != Survey.Scope.COURSE
        and not (opens_at and closes_at)
    ):
        raise SurveyError("window_required", field="closes_at" if opens_at else "opens_at")
    if opens_at and closes_at and closes_at <= opens_at:
        raise SurveyError("window_invalid", field="closes_at")
    delay = (
        settings.SURVEYS_INVITE_DELAY_MINUTES
        if invite_delay_minutes is None
        else invite_delay_minutes
    )
    if _as_int(delay) is None or not 0 <= _as_int(delay) <= 10080:
        raise SurveyError("delay_invalid", field="invite_delay_minutes")
    if _as_int(answer_days) is None or not 1 <= _as_int(answer_days) <= 90:
        raise SurveyError("answer_days_invalid", field="answer_days")
    same_target = _same_target(template, scope, target)
    if same_target.exists():
        raise SurveyError("survey_duplicate", field="target", name=template.name)
    try:
        with transaction.atomic():
            survey = _survey_insert(
                actor,
                template=template,
                version=_version,
                title=title,
                scope=scope,
                target=target,
                is_anonymous=is_anonymous,
                opens_at=opens_at,
                closes_at=closes_at,
                delay=delay,
                answer_days=answer_days,
                remind_before_hours=remind_before_hours,
            )
    except IntegrityError as error:
        # Made by someone else at the same moment (the partial unique constraints).
        if same_target.exists():
            raise SurveyError("survey_duplicate", field="target", name=template.name) from error
        raise
    return survey


def _same_target(template: SurveyTemplate, scope: str, target: dict):
    """Surveys of ``template`` already on the target (the unique constraints' keys)."""
    surveys = Survey.objects.filter(template=template, scope=scope)
    if scope in Survey.ATTENDANCE_SCOPES:
        return surveys.filter(offering=target["offering"], series__isnull=True)
    if scope == Survey.Scope.COURSE:
        return surveys.filter(course=target["course"])
    if scope == Survey.Scope.PARENT_SCHOOL_TERM:
        return surveys.filter(parent_school=target["parent_school"], term=target["term"])
    if scope == Survey.Scope.GROUP:
        return surveys.filter(group=target["group"], term=target["term"])
    return surveys.filter(alliance=target["alliance"], term=target["term"])


def _survey_insert(
    actor,
    *,
    template,
    version,
    title,
    scope,
    target,
    is_anonymous,
    opens_at,
    closes_at,
    delay,
    answer_days,
    remind_before_hours,
) -> Survey:
    alliance = target.get("alliance")
    survey = Survey.objects.create(
        template=template,
        version=version,
        title=title,
        scope=scope,
        offering=target.get("offering"),
        course=target.get("course"),
        parent_school=target.get("parent_school"),
        alliance=alliance,
        group=target.get("group"),
        term=target["term"],
        unit_id=target["unit_id"],
        is_anonymous=bool(is_anonymous),
        opens_at=opens_at,
        closes_at=closes_at,
        invite_delay_minutes=_as_int(delay),
        answer_days=_as_int(answer_days),
        remind_before_hours=remind_before_hours,
        created_by=actor,
    )
    audit_log_record(
        actor=actor,
        action="surveys.survey.create",
        target=survey,
        data={"scope": scope, "target": _target_pk(target), "anonymous": bool(is_anonymous)},
    )
    return survey


def _target_pk(target: dict) -> int:
    for name in ("offering", "course", "parent_school", "alliance", "group"):
        if target.get(name) is not None:
            return target[name].pk
    return 0


def _survey_for_change(actor, survey_id: int, *, lock: bool = False) -> Survey:
    surveys = Survey.objects.select_related("offering")
    if lock:
        surveys = surveys.select_for_update(of=("self",))
    survey = surveys.filter(pk=survey_id).first()
    if survey is None or not selectors.survey_changeable(user=actor, survey=survey):
        raise SurveyError("survey_missing")
    return survey


def survey_publish(*, actor, survey_id: int) -> Survey:
    with _locked_atomic():
        survey = _survey_for_change(actor, survey_id, lock=True)
        if survey.is_published:
            raise SurveyError("already_published")
        survey.is_published = True
        survey.save(update_fields=["is_published"])
        audit_log_record(actor=actor, action="surveys.survey.publish", target=survey)
    return survey


def survey_close(*, actor, survey_id: int, now: dt.datetime | None = None) -> Survey:
    """Close now (a course series closes its sessions' surveys too); anonymous
    surveys then release what still waits (the final batch) after the commit."""
    now = _now(now)
    with _locked_atomic():
        survey = _survey_for_change(actor, survey_id, lock=True)
        targets = [survey]
        if survey.scope == Survey.Scope.COURSE:
            targets += list(
                Survey.objects.select_for_update(of=("self",))
                .select_related("offering")
                .filter(series=survey)
                .order_by("pk")
            )
        for target in targets:
            _opens, closes = survey_window(target)
            if closes is None or closes > now:
                target.closes_at = now
                if target.opens_at and target.opens_at >= now:
                    target.opens_at = now - dt.timedelta(seconds=1)
                target.save(update_fields=["closes_at", "opens_at"])
            if target.is_anonymous:
                transaction.on_commit(lambda pk=target.pk: _release_enqueue(pk, True))
        audit_log_record(actor=actor, action="surveys.survey.close", target=survey)
    return survey


def surveys_deploy(
    *,
    actor,
    template_id: int,
    term_id: int,
    parent_school_ids: list[int] | None = None,
    is_anonymous: bool = False,
    opens_at: dt.datetime,
    closes_at: dt.datetime,
) -> int:
    """One published term survey of the template per parent school in the actor's
    scope (a district-wide survey compared across units). A second call adds only
    the missing ones. Returns the surveys made."""
    template, version = _usable_template(actor, template_id)
    term = Term.objects.filter(pk=term_id).first()
    if term is None:
        raise SurveyError("term_missing", field="term")
    if not (opens_at and closes_at):
        raise SurveyError("window_required", field="closes_at" if opens_at else "opens_at")
    if closes_at <= opens_at:
        raise SurveyError("window_invalid", field="closes_at")
    schools = ParentSchool.objects.filter(
        is_active=True, host_unit__in=access.units_changeable_by(actor)
    ).order_by("pk")
    if parent_school_ids is not None:
        schools = schools.filter(pk__in=parent_school_ids)
    made = 0
    with transaction.atomic():
        SurveyTemplate.objects.select_for_update().filter(pk=template.pk).first()
        have = set(
            Survey.objects.filter(
                template=template, term=term, scope=Survey.Scope.PARENT_SCHOOL_TERM
            ).values_list("parent_school_id", flat=True)
        )
        new = [
            Survey(
                template=template,
                version=version,
                title=f"{school.name} · {template.name}"[:TITLE_MAX],
                scope=Survey.Scope.PARENT_SCHOOL_TERM,
                parent_school=school,
                term=term,
                unit_id=school.host_unit_id,
                is_anonymous=bool(is_anonymous),
                opens_at=opens_at,
                closes_at=closes_at,
                is_published=True,
                created_by=actor,
            )
            for school in schools
            if school.pk not in have
        ]
        # ignore_conflicts: a school's survey made meanwhile by survey_create (the
        # unique (template, term, parent school)) stays as it is.
        Survey.objects.bulk_create(new, ignore_conflicts=True)
        made_ids = list(
            Survey.objects.filter(
                template=template, term=term, scope=Survey.Scope.PARENT_SCHOOL_TERM
            )
            .exclude(parent_school_id__in=have)
            .values_list("pk", flat=True)
        )
        made = len(made_ids)
        if made_ids:
            responses_changed.send(sender=Survey, survey_ids=made_ids)
        audit_log_record(
            actor=actor,
            action="surveys.survey.deploy",
            target=template,
            data={"term": term.pk, "surveys": made},
        )
    return made


def session_surveys_ensure(*, series_id: int, now: dt.datetime | None = None) -> int:
    """Each ended session of a published course series gets its own session survey
    (unique (series, offering): a second run, or two at once, make none twice).
    Returns the surveys made."""
    now = _now(now)
    series = Survey.objects.filter(
        pk=series_id, scope=Survey.Scope.COURSE, is_published=True
    ).first()
    if series is None:
        return 0
    have = set(Survey.objects.filter(series=series).values_list("offering_id", flat=True))
    version = selectors.current_version(series.template_id)
    sessions = (
        CourseSession.objects.filter(course_id=series.course_id, offering__ends_at__lte=now)
        .exclude(offering__status=Offering.Status.CANCELLED)
        .exclude(offering_id__in=have)
        .select_related("offering")
        .order_by("offering__starts_at", "pk")
    )
    new = []
    for session in sessions:
        offering = session.offering
        day = timezone.localtime(offering.starts_at).strftime("%Y-%m-%d")
        new.append(
            Survey(
                template_id=series.template_id,
                version=version,
                title=f"{series.title} · {day}"[:TITLE_MAX],
                scope=Survey.Scope.SESSION,
                offering=offering,
                term_id=series.term_id,
                unit_id=offering.unit_id,
                series=series,
                is_anonymous=series.is_anonymous,
                invite_delay_minutes=series.invite_delay_minutes,
                answer_days=series.answer_days,
                remind_before_hours=series.remind_before_hours,
                is_published=True,
                created_by=series.created_by,
            )
        )
    if not new:
        return 0
    made = 0
    for survey in new:
        # One savepoint each: a sweep running at the same time made it first.
        try:
            with transaction.atomic():
                survey.save(force_insert=True)
        except IntegrityError:
            continue
        made += 1
    return made


def consultation_survey_ensure(
    *, offering_id: int, template_name: str, description: str, questions: list[dict]
) -> Survey:
    """The published satisfaction survey of a guidance consultation's slot (scope
    consultation, answered by the families marked present), made by the system
    when the mentor marks the consultation held (guidance.services
    .satisfaction_invite). The district template ``template_name`` is made with
    ``questions`` (dicts of question fields: kind, label, options, required,
    measure) the first time; later calls reuse it as its owners left it. Both are
    get-or-create on their unique keys, so two simultaneous first calls make one
    of each. Invitations follow surveys' own path (surveys_due → invitations_send)."""
    offering = Offering.objects.get(pk=offering_id)
    template = SurveyTemplate.objects.filter(alliance__isnull=True, name=template_name).first()
    if template is None:
        try:
            with transaction.atomic():
                template = SurveyTemplate.objects.create(
                    alliance=None, name=template_name, description=description
                )
                version = TemplateVersion.objects.create(template=template, number=1)
                section = Section.objects.create(version=version, title=_("第一部分"), position=0)
                for position, fields in enumerate(questions):
                    Question.objects.create(
                        version=version,
                        section=section,
                        key=f"q{position + 1}",
                        position=position,
                        kind=fields["kind"],
                        label=fields["label"],
                        options=list(fields.get("options", ())),
                        required=fields.get("required", True),
                        measure=fields.get("measure", ""),
                    )
                audit_log_record(
                    actor=None,
                    action="surveys.template.create",
                    target=template,
                    data={"alliance": None, "system": True},
                )
        except IntegrityError:
            template = SurveyTemplate.objects.get(alliance__isnull=True, name=template_name)
    survey = Survey.objects.filter(
        template=template, scope=Survey.Scope.CONSULTATION, offering=offering
    ).first()
    if survey is not None:
        return survey
    target = _target_resolve(Survey.Scope.CONSULTATION, offering.pk, None)
    try:
        with transaction.atomic():
            survey = _survey_insert(
                None,
                template=template,
                version=selectors.current_version(template.pk),
                title=f"{target['name']} · {template.name}"[:TITLE_MAX],
                scope=Survey.Scope.CONSULTATION,
                target=target,
                # Anonymous: a consultation slot is one family (or a handful), so
                # a named answer sheet would tell the station's coordinators who
                # consulted and what they thought; its answers count in the
                # template's results from 5 answers on, like every small group.
                is_anonymous=True,
                opens_at=None,
                closes_at=None,
                delay=settings.SURVEYS_INVITE_DELAY_MINUTES,
                answer_days=7,
                remind_before_hours=24,
            )
            survey.is_published = True
            survey.save(update_fields=["is_published"])
    except IntegrityError:
        # Made at the same moment by another call (survey_one_per_offering).
        survey = Survey.objects.get(
            template=template, scope=Survey.Scope.CONSULTATION, offering=offering
        )
    return survey


# Invitations and reminders ----------------------------------------------------------


def _notice_texts(survey: Survey, *, remind: bool) -> dict:
    _opens, closes = survey_window(survey)
    names = {"title": survey.title, "closes": _local(closes) if closes else ""}
    if remind:
        return {
            "subject": _("提醒：“%(title)s”问卷即将截止") % names,
            "lead": _("您还没有填写“%(title)s”问卷，%(closes)s 截止，只需几分钟。") % names,
            "sms": _("“%(title)s”问卷%(closes)s截止，请抽空填写。") % names,
        }
    return {
        "subject": _("请为“%(title)s”填写问卷") % names,
        "lead": _(
            "感谢您的参与！请花几分钟填写“%(title)s”问卷，帮助我们改进课程和活动。%(closes)s 截止。"
        )
        % names,
        "sms": _("请为“%(title)s”填写问卷，%(closes)s截止。") % names,
    }


def notice_key(topic: str, survey_id: int, family_id: int) -> str:
    return f"{topic}:{survey_id}:{family_id}"


def invitations_send(*, survey_id: int, now: dt.datetime | None = None) -> int:
    """Invite the eligible families not yet invited and not answered, once each,
    through the outbox, ``NOTICE_CHUNK`` families per transaction. Before the due
    time (offering end + delay; a term survey's opening) or after closing: nobody.
    Families who check in late are invited by the next run. Returns families invited."""
    now = _now(now)
    survey = Survey.objects.select_related("offering").filter(pk=survey_id).first()
    if survey is None or not survey.is_published or survey.scope == Survey.Scope.COURSE:
        return 0
    due = selectors.invite_due_at(survey)
    _opens, closes = survey_window(survey)
    if due is None or now < due or closes is None or now >= closes:
        return 0
    texts = _notice_texts(survey, remind=False)
    path = f"/surveys/{survey.pk}/"
    invited = 0
    after = 0
    while True:
        with transaction.atomic():
            family_ids = list(
                eligible_families(survey)
                .filter(family_id__gt=after)
                .exclude(family_id__in=Invitation.objects.filter(survey=survey).values("family_id"))
                .exclude(
                    family_id__in=Participation.objects.filter(survey=survey).values("family_id")
                )[:NOTICE_CHUNK]
            )
            if not family_ids:
                break
            after = family_ids[-1]
            Invitation.objects.bulk_create(
                [Invitation(survey=survey, family_id=f, invited_at=now) for f in family_ids],
                ignore_conflicts=True,
            )
            for family_id in family_ids:
                notice_send(
                    key=notice_key(INVITE_TOPIC, survey.pk, family_id),
                    topic=INVITE_TOPIC,
                    family_ids=[family_id],
                    path=path,
                    unit=survey.unit_id,
                    now=now,
                    **texts,
                )
            invited += len(family_ids)
            if survey.invited_at is None:
                Survey.objects.filter(pk=survey.pk, invited_at__isnull=True).update(invited_at=now)
                survey.invited_at = now
            # bulk_create sends no post_save: tell the roll-up the invited count moved.
            responses_changed.send(sender=Survey, survey_ids=[survey.pk])
        if len(family_ids) < NOTICE_CHUNK:
            break
    return invited


def reminders_send(*, survey_id: int, now: dt.datetime | None = None) -> int:
    """Once, ``remind_before_hours`` before closing: remind the invited families
    that have not answered (the skip hook drops a reminder of a family that
    answers before it goes out). Returns families reminded."""
    now = _now(now)
    survey = Survey.objects.select_related("offering").filter(pk=survey_id).first()
    if survey is None or not survey.is_published or survey.invited_at is None:
        return 0
    due = selectors.remind_due_at(survey)
    _opens, closes = survey_window(survey)
    if due is None or now < due or now >= closes:
        return 0
    texts = _notice_texts(survey, remind=True)
    path = f"/surveys/{survey.pk}/"
    reminded = 0
    while True:
        with transaction.atomic():
            invitations = list(
                Invitation.objects.select_for_update(skip_locked=True)
                .filter(survey=survey, reminded_at__isnull=True)
                .exclude(
                    family_id__in=Participation.objects.filter(survey=survey).values("family_id")
                )
                .order_by("family_id")[:NOTICE_CHUNK]
            )
            if not invitations:
                break
            Invitation.objects.filter(pk__in=[i.pk for i in invitations]).update(reminded_at=now)
            for invitation in invitations:
                notice_send(
                    key=notice_key(REMIND_TOPIC, survey.pk, invitation.family_id),
                    topic=REMIND_TOPIC,
                    family_ids=[invitation.family_id],
                    path=path,
                    unit=survey.unit_id,
                    now=now,
                    **texts,
                )
            reminded += len(invitations)
        if len(invitations) < NOTICE_CHUNK:
            break
    Survey.objects.filter(pk=survey.pk, reminded_at__isnull=True).update(reminded_at=now)
    return reminded


# The sweep's lists ------------------------------------------------------------------

# Session and event surveys with their default windows are looked at for this long
# after their offering ended (answer_days is at most 90).
SWEEP_LOOKBACK_DAYS = 100


def surveys_due(*, now: dt.datetime | None = None) -> dict[str, list[int]]:
    """What the beat enqueues: course series with an ended session lacking its
    survey, surveys whose invitations are due (again each pass while open, for
    late check-ins), reminders due, closed anonymous surveys with waiting answers."""
    now = _now(now)
    since = now - dt.timedelta(days=SWEEP_LOOKBACK_DAYS)
    series = list(
        Survey.objects.filter(scope=Survey.Scope.COURSE, is_published=True)
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .filter(
            course__sessions__offering__ends_at__lte=now,
            course__sessions__offering__ends_at__gte=since,
        )
        .values_list("pk", flat=True)
        .distinct()
    )
    candidates = (
        Survey.objects.filter(is_published=True)
        .exclude(scope=Survey.Scope.COURSE)
        .filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))
        .filter(
            Q(offering__ends_at__lte=now, offering__ends_at__gte=since)
            | Q(offering__isnull=True, opens_at__lte=now)
        )
        .select_related("offering")
    )
    invitations, reminders, term_scans = [], [], []
    rescan_before = now - TERM_INVITE_RESCAN
    for survey in candidates:
        _opens, closes = survey_window(survey)
        if closes is None or now >= closes:
            continue
        due = selectors.invite_due_at(survey)
        if due is not None and due <= now:
            if survey.offering_id is None:
                # A term survey: its family scan is heavy; at most hourly.
                checked = survey.invitations_checked_at
                if checked is None or checked <= rescan_before:
                    invitations.append(survey.pk)
                    term_scans.append(survey.pk)
            else:
                invitations.append(survey.pk)
        remind = selectors.remind_due_at(survey)
        if survey.invited_at and survey.reminded_at is None and remind and remind <= now:
            reminders.append(survey.pk)
    if term_scans:
        Survey.objects.filter(pk__in=term_scans).update(invitations_checked_at=now)
    closed_anonymous = [
        survey.pk
        for survey in Survey.objects.filter(is_anonymous=True)
        .filter(pk__in=PendingResponse.objects.values("survey_id"))
        .select_related("offering")
        if selectors.survey_is_closed(survey, now)
    ]
    return {
        "series": series,
        "invitations": invitations,
        "reminders": reminders,
        "final_releases": closed_anonymous,
    }


def series_invitations_due(*, series_id: int, now: dt.datetime | None = None) -> list[int]:
    """The series' session surveys whose invitations are due now."""
    now = _now(now)
    due = []
    for survey in Survey.objects.filter(series_id=series_id).select_related("offering"):
        when = selectors.invite_due_at(survey)
        _opens, closes = survey_window(survey)
        if when is not None and when <= now and closes is not None and now < closes:
            due.append(survey.pk)
    return due
