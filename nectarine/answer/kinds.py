"""What kind of question this is, so the answer can be shaped for it.

A how-to question wants the whole list of steps; an error wants its cause and fix; a setting wants
the value, its default and the versions; "what changed since 4.3" wants the release notes of that
range, grouped by version; "can I ..." wants the answer first. Rules, not a model: the cues are
few, written in the question's own words, and a wrong guess only changes the shape, never the
facts (every kind falls back to the same scored selection).

>>> question_kind("how do I unlock a locked user?")
<QuestionKind.HOW_TO: 'how-to'>
>>> question_kind('getting "AUTH-1002 Your account is temporarily locked"')
<QuestionKind.TROUBLESHOOT: 'troubleshoot'>
>>> version_range("what changed between 4.2 and 4.5?")
('4.2', '4.5')
"""

from __future__ import annotations

import re

from ..types import Choice
from ..versions import VERSION_IN_TEXT_RE, Version


class QuestionKind(Choice):
    HOW_TO = "how-to"  # the steps to do something
    TROUBLESHOOT = "troubleshoot"  # an error code or a symptom: cause, fix, workaround or fixed version
    SETTING = "setting"  # a value: limit, default, duration, size
    CHANGES = "changes"  # what changed in or since a version
    AVAILABILITY = "availability"  # can I / is there / does it support
    COMPARISON = "comparison"  # X or Y, the difference between
    CONCEPT = "concept"  # what is X
    FACT = "fact"  # anything else


_CODE = re.compile(r"\b[A-Z]{2,}-\d{3,5}\b|\b(4\d\d|5\d\d)\b(?!\s*(rows|records|users|requests|minutes|days|mb|gb))|\b[A-Z]{3,}_[A-Z_]+\b")
_SYMPTOM = re.compile(
    r"\b(error|errors|fail(s|ed|ing|ure)?|doesn'?t work|does not work|not working|isn'?t working|broken|won'?t|can'?t|cannot|"
    r"couldn'?t|could not|cannot be|can't be|unable|expired|detected|not allowed|not found|no longer|stuck|keeps?|never (arrive|show|sync|run)s?|missing|disappeared|denied|rejected|invalid|wrong|"
    r"exception|crash(es|ed)?|timed? ?out|times out|slow|no longer|stopped|blank|empty)\b", re.I)
_CHANGES = re.compile(
    r"\b(what'?s new|what is new|what (has |have )?changed|what changes|what('?s| is| came| comes) (in|with) (nectain )?v?\d|"
    r"what does (it|\d[\d.]*) fix|changes? (in|since|between|from)|changelog|release notes?|"
    r"new (in|since) (nectain )?v?\d|(before|when) (we |i )?upgrad\w*|upgrad\w* (from|to) (nectain )?v?\d)", re.I)
_COMPARISON = re.compile(r"\b(difference|differences|differ|vs\.?|versus|compared? (to|with)|or should (i|we)|which (one|is better|should)|"
                         r"better to|instead of|same as)\b", re.I)
_SETTING = re.compile(
    r"\b(how (long|many|much|often|big|large|far back)|limit|limits|max(imum)?|min(imum)?|default|defaults|timeout|quota|size|"
    r"retention|retained|kept for|expire|expiry|rate|up to how|cap|capped|threshold|length)\b", re.I)
_HOW_TO = re.compile(
    r"\b(how (do|can|to|should|would)|set ?up|configure|enable|disable|turn (on|off)|switch (on|off)|create|add|install|"
    r"connect|reset|export|import|rotate|migrate|move|invite|remove|delete|change|update|where (do|can|is|are) (i|we|the)|way to|"
    r"walk me through)\b", re.I)
_AVAILABILITY = re.compile(r"^\W*(can|could|is it possible|is there|are there|does (nectain|it)|do (you|we|i)|will|is \w+ (supported|available))\b|"
                           r"\b(possible|supported|available|support for)\b", re.I)
_CONCEPT = re.compile(r"^\W*(what('?s| is| are| does| do)|whats|define|meaning of|explain)\b", re.I)


def question_kind(question: str) -> QuestionKind:
    """The kind of ``question`` (first match wins: changes, error, comparison, setting, how-to, yes/no, concept)."""
    q = question.strip()
    if _CHANGES.search(q):
        return QuestionKind.CHANGES
    if _CODE.search(q):
        return QuestionKind.TROUBLESHOOT
    if re.search(r"\bhow (long|many|much|often|big|large)\b|\bwhat('?s| is) the (default|limit|max|maximum|minimum)\b", q, re.I):
        return QuestionKind.SETTING
    if _SYMPTOM.search(q) and not _COMPARISON.search(q):
        return QuestionKind.TROUBLESHOOT
    if _COMPARISON.search(q):
        return QuestionKind.COMPARISON
    if _SETTING.search(q) and not re.match(r"\W*how (do|can|to)\b", q, re.I):
        return QuestionKind.SETTING
    if _HOW_TO.search(q):
        return QuestionKind.HOW_TO
    if _AVAILABILITY.search(q):
        return QuestionKind.AVAILABILITY
    if _CONCEPT.search(q):
        return QuestionKind.CONCEPT
    return QuestionKind.FACT


_SINCE = re.compile(r"\b(since|after|from|starting (with|from))\s+(nectain\s+)?v?(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)", re.I)
_UP_TO = re.compile(r"\b(to|until|up to|through|and)\s+(nectain\s+)?v?(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)", re.I)


def version_range(question: str, current: str | None = None) -> tuple[str | None, str | None]:
    """The version range a "what changed" question asks about: (after, up to), either may be None.

    "since 4.3" is (4.3, None); "between 4.2 and 4.5" and "from 4.1 to 4.4" are (4.2, 4.5) and
    (4.1, 4.4); "in 4.5" is (None, 4.5) with the lower bound at 4.5 itself (see :func:`in_range`).
    With one version and no word for a range, it is the release asked about.
    """
    found = [m.group(1) for m in VERSION_IN_TEXT_RE.finditer(question)]
    since = _SINCE.search(question)
    until = _UP_TO.search(question)
    if len(found) >= 2:
        lo, hi = sorted(found[:2], key=lambda v: Version.parse(v).floor)
        return lo, hi
    if since:
        return since.group(4), None
    if until:
        return current, until.group(3)
    if found:
        return None, found[0]
    return current, None


def in_range(version: str, lo: str | None, hi: str | None, *, exact: bool = False) -> bool:
    """Is release ``version`` in the range: after ``lo`` (or from it when ``exact``) and up to every ``hi``.x?"""
    v = Version.parse(version).floor
    if lo is not None:
        low = Version.parse(lo)
        if exact and v < low.floor:
            return False
        if not exact and v < low.ceiling:
            return False
    if hi is not None and v >= Version.parse(hi).ceiling:
        return False
    return True


_NEEDS = re.compile(r"\b(?:available|introduced|added|new|supported|requires?|needs?|only)\s+(?:in|from|since|on|with)?\s*"
                    r"(?:nectain\s+)?v?(\d{1,2}\.\d{1,2})(?:\.\d{1,3})?(?:\s+(?:and|or)\s+(?:later|newer|above))?|"
                    r"\b(?:from|since|starting with)\s+(?:nectain\s+)?v?(\d{1,2}\.\d{1,2})(?:\.\d{1,3})?", re.I)


def needs_version(text: str) -> str | None:
    """The version a passage says a feature needs ("available from 4.3", "since Nectain 4.2"), if any."""
    found = [a or b for a, b in _NEEDS.findall(text)]
    return min(found, key=lambda v: Version.parse(v).floor) if found else None
