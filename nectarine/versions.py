"""Nectain product versions and the version ranges that documents apply to.

A document says which Nectain versions it covers with a small grammar:

    "all"          every version
    ">=4.2"        4.2.0 and later          "<=4.3"   up to and including every 4.3.x
    "4.1-4.3"      4.1.0 up to every 4.3.x  "4.3"     every 4.3.x
    "4.3.1"        exactly that release     ">=4.2, <=4.4"  (a comma joins specs with AND)

>>> VersionSpec.parse(">=4.2").matches("4.3.1")
True
>>> VersionSpec.parse("4.1-4.3").matches("4.4")
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import VersionError  # noqa: F401 - defined under the one error root

_VERSION_RE = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$", re.I)
# A version mentioned in free text, e.g. "I'm on 4.3.1" or "Nectain v4.2".
VERSION_IN_TEXT_RE = re.compile(r"(?<![\w./])v?(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)(?![\w.]*\d)")

INFINITY = (10**6, 0, 0)
ZERO = (0, 0, 0)


@dataclass(frozen=True, order=True)
class Version:
    """A Nectain release number. Missing parts are ``None`` ("4.3" means the 4.3 line)."""

    major: int
    minor: int | None = None
    patch: int | None = None

    @classmethod
    def parse(cls, text: str | Version) -> Version:
        if isinstance(text, Version):
            return text
        m = _VERSION_RE.match(str(text))
        if not m:
            raise VersionError(f"not a version: {text!r} (expected something like 4.3 or 4.3.1)")
        major, minor, patch = (int(p) if p is not None else None for p in m.groups())
        return cls(major, minor, patch)

    @property
    def floor(self) -> tuple[int, int, int]:
        """The first release this version string can denote (4.3 -> 4.3.0)."""
        return (self.major, self.minor or 0, self.patch or 0)

    @property
    def ceiling(self) -> tuple[int, int, int]:
        """The first release *after* everything this string denotes (4.3 -> 4.4.0)."""
        if self.minor is None:
            return (self.major + 1, 0, 0)
        if self.patch is None:
            return (self.major, self.minor + 1, 0)
        return (self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return ".".join(str(p) for p in (self.major, self.minor, self.patch) if p is not None)


@dataclass(frozen=True)
class VersionSpec:
    """A half-open interval ``[low, high)`` of release tuples, parsed from the grammar above."""

    low: tuple[int, int, int] = ZERO
    high: tuple[int, int, int] = INFINITY
    text: str = "all"

    @classmethod
    def parse(cls, text: str | VersionSpec | None) -> VersionSpec:
        if isinstance(text, VersionSpec):
            return text
        if text is None or str(text).strip().lower() in {"", "all", "*", "any"}:
            return cls()
        raw = str(text).strip()
        low, high = ZERO, INFINITY
        for part in (p.strip() for p in raw.split(",")):
            part_low, part_high = _parse_one(part, raw)
            low, high = max(low, part_low), min(high, part_high)
        if low >= high:
            raise VersionError(f"version range {raw!r} is empty")
        return cls(low, high, raw)

    def matches(self, version: str | Version | None) -> bool:
        """Does this range cover ``version``? A user on "4.3" is covered if any 4.3.x is."""
        if version is None:
            return True
        v = Version.parse(version)
        return v.floor < self.high and v.ceiling > self.low

    @property
    def is_all(self) -> bool:
        return self.low == ZERO and self.high == INFINITY

    def __str__(self) -> str:
        return self.text


def _parse_one(part: str, whole: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    try:
        for op in (">=", "<=", ">", "<"):
            if part.startswith(op):
                v = Version.parse(part[len(op) :])
                return {
                    ">=": (v.floor, INFINITY),
                    ">": (v.ceiling, INFINITY),
                    "<=": (ZERO, v.ceiling),
                    "<": (ZERO, v.floor),
                }[op]
        if "-" in part:
            a, b = part.split("-", 1)
            return Version.parse(a).floor, Version.parse(b).ceiling
        v = Version.parse(part)
        return v.floor, v.ceiling
    except VersionError:
        raise VersionError(
            f"cannot read version range {whole!r}: use 'all', '>=4.2', '<=4.3', '4.1-4.3' or '4.3.1'"
        ) from None


def find_version(text: str) -> str | None:
    """The first Nectain-looking version number in free text, if any.

    >>> find_version("we are on Nectain 4.3.0 since Monday")
    '4.3.0'
    """
    for m in VERSION_IN_TEXT_RE.finditer(text):
        v = Version.parse(m.group(1))
        if 3 <= v.major <= 9:  # plausible Nectain majors; skips "1.5 GB", "Windows 10.0"
            return str(v)
    return None


_V = r"v?(\d\.\d{1,2}(?:\.\d{1,3})?)"
_HEADING_RANGES = [
    (re.compile(_V + r"\s*(?:-|–|to)\s*" + _V), lambda a, b: f"{a}-{b}"),
    (re.compile(_V + r"\s*(?:\+|and later|or later|and newer|or newer|and above|onwards)", re.I), lambda a: f">={a}"),
    (re.compile(r"\b(?:from|since|starting (?:with|in|from)|available from)\s+(?:nectain\s+)?" + _V, re.I), lambda a: f">={a}"),
    (re.compile(_V + r"\s*(?:and earlier|or earlier|and older|or older|and below)", re.I), lambda a: f"<={a}"),
    (re.compile(r"\b(?:up to|until|through|prior to and including)\s+(?:nectain\s+)?" + _V, re.I), lambda a: f"<={a}"),
    (re.compile(r"\b(?:before|prior to)\s+(?:nectain\s+)?" + _V, re.I), lambda a: f"<{a}"),
]


def versions_from_heading(heading: str) -> str | None:
    """A version range stated by a section heading, e.g. "Timeout from 4.3" -> ">=4.3".

    Only explicit range phrases count; "New in 4.1" or "Known issue in 4.3.0" say nothing about
    which users a section applies to.

    >>> versions_from_heading("Create a pivot table (4.3 and later)")
    '>=4.3'
    >>> versions_from_heading("Use Show/Hide rules (up to 4.5)")
    '<=4.5'
    """
    for pattern, make in _HEADING_RANGES:
        m = pattern.search(heading)
        if m:
            return make(*m.groups())
    return None


def narrow(spec: str, extra: str | None) -> str:
    """Both ranges at once (AND), as spec text; ``extra`` None leaves ``spec`` as it is."""
    if not extra:
        return spec
    if VersionSpec.parse(spec).is_all:
        return extra
    combined = f"{spec}, {extra}"
    try:
        VersionSpec.parse(combined)
    except VersionError:  # the heading contradicts the page; trust the page
        return spec
    return combined
