"""Keep locale/zh_Hans/LC_MESSAGES/django.po: plain Chinese for allauth's pages.

The portal's own msgids are Chinese, so Chinese needs no catalogue for them. The
sign-in, sign-up, code, password, email and session pages also show allauth's
(English) msgids, and a few of Django's (required field, email, password rules);
their shipped zh_Hans translations read as machine translation (「Email地址」,
「您真的应该…」). This catalogue holds only those English msgids, translated for
parents. LOCALE_PATHS comes before the apps' catalogues, so ours wins; anything
it does not hold falls through to allauth's and Django's own.

Never run ``makemessages -l zh_Hans`` (or ``--all``) over the project: it would
pull in the Chinese msgids and mark these entries obsolete. Use this script:

    .venv/bin/python scripts/zh_hans_catalogue.py update   # add new msgids, drop stale, compile
    .venv/bin/python scripts/zh_hans_catalogue.py check    # what tests/foundation checks

``update`` keeps every translation already in the .po, adds each in-scope msgid
of the installed allauth that is missing (empty, with allauth's own translation
as a ``#.`` comment to start from), drops msgids allauth and Django no longer
have, and compiles the .mo with msgfmt. ``check`` lists what is wrong.
"""

from __future__ import annotations

import ast
import gettext
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import allauth
import django

PROJECT = Path(__file__).resolve().parent.parent
CATALOGUE = PROJECT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
ALLAUTH_PO = Path(allauth.__file__).parent / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
DJANGO_DIR = Path(django.__file__).parent

# allauth msgids used by the apps this portal installs (account, usersessions) and
# their shared layout; socialaccount, mfa, idp and headless are not installed.
ALLAUTH_SCOPE = (
    "account/",
    "usersessions/",
    "core/",
    "templates/account/",
    "templates/usersessions/",
    "templates/allauth/",
)

# Django's own msgids that the account pages show (required field, email, the
# password rules of AUTH_PASSWORD_VALIDATORS and the verbose names they quote).
# Django 5.2's "too short" error has no zh_Hans translation at all.
DJANGO_CATALOGUES = (
    DJANGO_DIR / "conf" / "locale" / "en" / "LC_MESSAGES" / "django.po",
    DJANGO_DIR / "contrib" / "auth" / "locale" / "en" / "LC_MESSAGES" / "django.po",
)
DJANGO_MSGIDS = (
    "This field is required.",
    "Enter a valid email address.",
    "This password is too short. It must contain at least %d character.",
    "This password is too common.",
    "This password is entirely numeric.",
    "The password is too similar to the %(verbose_name)s.",
    "Your password can’t be too similar to your other personal information.",
    "Your password must contain at least %(min_length)d character.",
    "Your password can’t be a commonly used password.",
    "Your password can’t be entirely numeric.",
)

# Words that mark the machine translation we replace, or an English leftover.
MARKERS = (
    "Email",
    "E-mail",
    "email",
    "电子邮件",
    "您真的应该",
    "登出",
    "电话号码",
    "代码",
    "token",
    "帐号",
    "首选",
)

HEADER = """\
# Plain Simplified Chinese for allauth's pages and the Django strings they show.
# Kept by scripts/zh_hans_catalogue.py (see docs/ACCOUNTS.md); do not run
# makemessages for zh_Hans over the project.
msgid ""
msgstr ""
"Project-Id-Version: alliance-portal\\n"
"Language: zh_Hans\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"Plural-Forms: nplurals=1; plural=0;\\n"
"""

PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}")


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    refs: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)


def parse_po(path: Path) -> list[Entry]:
    """The entries of a .po file (header and obsolete entries left out)."""
    entries: list[Entry] = []
    fields: dict[str, str] = {}
    refs: list[str] = []
    flags: list[str] = []
    notes: list[str] = []
    current = None

    def flush():
        nonlocal fields, refs, flags, notes
        if fields.get("msgid"):
            entries.append(
                Entry(
                    msgid=fields["msgid"],
                    msgctxt=fields.get("msgctxt"),
                    msgid_plural=fields.get("msgid_plural"),
                    msgstr=fields.get("msgstr", fields.get("msgstr[0]", "")),
                    refs=refs,
                    flags=flags,
                    notes=notes,
                )
            )
        fields, refs, flags, notes = {}, [], [], []

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            flush()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#:"):
            refs.extend(line[2:].split())
        elif line.startswith("#,"):
            flags.extend(flag.strip() for flag in line[2:].split(",") if flag.strip())
        elif line.startswith("#."):
            notes.append(line[2:].strip())
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            fields[current] += ast.literal_eval(line)
        else:
            name, _, value = line.partition(" ")
            current = name
            fields[name] = ast.literal_eval(value)
    flush()
    return entries


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")
    return '"' + escaped.replace("\n", "\\n") + '"'


def _po_string(keyword: str, text: str) -> str:
    if "\n" not in text.rstrip("\n"):
        return f"{keyword} {_quote(text)}"
    lines = text.splitlines(keepends=True)
    return "\n".join([f'{keyword} ""', *(_quote(part) for part in lines)])


def render_po(entries: list[Entry]) -> str:
    blocks = [HEADER]
    for entry in entries:
        lines = [f"#. {note}" for note in entry.notes]
        if entry.refs:
            lines.append("#: " + " ".join(entry.refs))
        if entry.flags:
            lines.append("#, " + ", ".join(entry.flags))
        if entry.msgctxt is not None:
            lines.append(_po_string("msgctxt", entry.msgctxt))
        lines.append(_po_string("msgid", entry.msgid))
        if entry.msgid_plural is not None:
            lines.append(_po_string("msgid_plural", entry.msgid_plural))
            lines.append(_po_string("msgstr[0]", entry.msgstr))
        else:
            lines.append(_po_string("msgstr", entry.msgstr))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def in_scope_allauth() -> list[Entry]:
    """allauth's msgids that a page, message or mail of this portal can show."""
    wanted = []
    for entry in parse_po(ALLAUTH_PO):
        # Files only, without line numbers, so that an allauth upgrade that
        # merely moves a string does not change this catalogue.
        refs = sorted(
            {ref.partition(":")[0] for ref in entry.refs if ref.startswith(ALLAUTH_SCOPE)}
        )
        if refs:
            flags = [flag for flag in entry.flags if flag.endswith("-format")]
            wanted.append(
                Entry(
                    msgid=entry.msgid,
                    msgctxt=entry.msgctxt,
                    msgid_plural=entry.msgid_plural,
                    refs=[f"allauth/{ref}" for ref in refs],
                    flags=flags,
                    notes=[f"allauth: {entry.msgstr}"] if entry.msgstr else [],
                )
            )
    return wanted


def in_scope_django() -> list[Entry]:
    source = {}
    for path in DJANGO_CATALOGUES:
        for entry in parse_po(path):
            source.setdefault(entry.msgid, (path, entry))
    wanted = []
    for msgid in DJANGO_MSGIDS:
        if msgid not in source:
            raise SystemExit(f"Django no longer has the msgid {msgid!r}: update DJANGO_MSGIDS.")
        path, entry = source[msgid]
        wanted.append(
            Entry(
                msgid=msgid,
                msgid_plural=entry.msgid_plural,
                refs=["django/" + "/".join(path.relative_to(DJANGO_DIR).parts[:-4])],
                flags=[flag for flag in entry.flags if flag.endswith("-format")],
            )
        )
    return wanted


def merged(existing: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(the catalogue as it should be, the existing entries no longer in scope)."""
    translations = {entry.key: entry.msgstr for entry in existing}
    wanted = []
    keys = set()
    for entry in in_scope_allauth() + in_scope_django():
        if entry.key in keys:  # allauth and Django share a few msgids ("Password")
            continue
        entry.msgstr = translations.get(entry.key, "")
        if entry.msgstr:
            entry.notes = []  # allauth's wording is only a starting point for new ones
        wanted.append(entry)
        keys.add(entry.key)
    stale = [entry for entry in existing if entry.key not in keys]
    return wanted, stale


def problems() -> list[str]:
    """Everything that keeps the catalogue from doing its job; empty when all is well."""
    found = []
    if not CATALOGUE.is_file():
        return [f"{CATALOGUE} is missing: run `scripts/zh_hans_catalogue.py update`."]
    existing = parse_po(CATALOGUE)
    wanted, stale = merged(existing)
    for entry in stale:
        found.append(f"not an allauth or Django msgid any more: {entry.msgid!r}")
    for entry in wanted:
        label = f"{entry.msgctxt}|{entry.msgid}" if entry.msgctxt else entry.msgid
        if not entry.msgstr:
            found.append(f"untranslated: {label!r}")
            continue
        if re.search(r"[\u4e00-\u9fff]", entry.msgid):
            found.append(f"a Chinese msgid belongs to the project, not here: {label!r}")
        # Placeholders (%(email)s) and markup (mailto:) are not words a parent reads.
        words = re.sub(r"<[^>]*>", "", PLACEHOLDER.sub("", entry.msgstr))
        for marker in MARKERS:
            if marker in words:
                found.append(f"{marker!r} in the translation of {label!r}: {entry.msgstr!r}")
        source = entry.msgid + (entry.msgid_plural or "")
        if set(PLACEHOLDER.findall(entry.msgstr)) != set(PLACEHOLDER.findall(source)):
            found.append(f"placeholders differ in {label!r}: {entry.msgstr!r}")
    if render_po(wanted) != CATALOGUE.read_text(encoding="utf-8"):
        found.append("the .po is not in the script's order and layout: run `update`.")
    found.extend(_compiled_problems(wanted))
    return found


def _compiled_problems(entries: list[Entry]) -> list[str]:
    if not COMPILED.is_file():
        return [f"{COMPILED} is missing: run `update` (or `make messages`)."]
    with COMPILED.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    expected = {}
    for entry in entries:
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        expected[(msgid, 0) if entry.msgid_plural else msgid] = entry.msgstr
    compiled = {key: value for key, value in catalog.items() if key != ""}
    if compiled != expected:
        return ["the .mo does not match the .po: run `update` (or `make messages`)."]
    return []


def update() -> None:
    existing = parse_po(CATALOGUE) if CATALOGUE.is_file() else []
    wanted, stale = merged(existing)
    CATALOGUE.parent.mkdir(parents=True, exist_ok=True)
    CATALOGUE.write_text(render_po(wanted), encoding="utf-8")
    subprocess.run(
        ["msgfmt", "--check-format", "-o", str(COMPILED), str(CATALOGUE)],
        check=True,
    )
    for entry in stale:
        print(f"dropped (no longer in allauth or Django): {entry.msgid!r}")
    for entry in wanted:
        if not entry.msgstr:
            print(f"to translate: {entry.msgid!r}")


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    if command == "check":
        found = problems()
        print("\n".join(found) or "zh_Hans catalogue: all good")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
