"""Pasted or attached logs: bounded in size, never by dropping the lines that matter.

A multi-megabyte log keeps its head, its tail and every error line and stack-trace frame; what was
cut is said in place ("… 41,212 lines cut …"). Error messages and codes are pulled out for the ticket.

**Bounded work.** Before any pattern runs, a log is cut to ``MAX_LOG_CHARS`` (its first fifth and its
last four fifths, at line breaks: ``cap_log``), and each line is read up to ``MAX_LINE_CHARS``, so
the scan is linear in a bounded input whatever is attached. Past the caps, the error lines kept are
the first and last ``MAX_IMPORTANT_LINES // 2`` (stack frames included), the error lines listed the
first and last ``MAX_ERROR_LINES // 2`` distinct ones, and ``error_messages`` returns at most
``MAX_ERROR_MESSAGES``.

>>> text = "\\n".join(f"2026-11-20 09:{i // 60:02d}:{i % 60:02d} INFO Heartbeat {i}" for i in range(1000))
>>> text += "\\n2026-11-20 09:14:03 ERROR AuthService - AUTH-1003 SSO assertion could not be validated."
>>> bounded = bound_log(text, max_lines=400)
>>> bounded.total_lines, bounded.error_lines[:1]
(1001, ['2026-11-20 09:14:03 ERROR AuthService - AUTH-1003 SSO assertion could not be validated.'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import LogError  # noqa: F401 - defined under the one error root

# The caps (why each value: one line each).
MAX_LOG_CHARS = 4_000_000  # characters of logs scanned (a day of a busy client log; 20x the service's 200 KB limit): ~0.4 s of patterns
MAX_LINE_CHARS = 2_000  # a line is read and kept up to here: a stack frame or error message is far shorter, a minified blob is not
MAX_IMPORTANT_LINES = 300  # error lines and stack frames kept in the text: the first and last 150, so a log of only errors stays bounded
MAX_ERROR_LINES = 200  # distinct error lines listed for the ticket: the first and last 100
MAX_ERROR_MESSAGES = 50  # error codes and quoted messages returned: a ticket needs the few that matter, not every repeat

ERROR_LINE = re.compile(
    r"\b(ERROR|FATAL|CRITICAL|SEVERE|PANIC|Exception|Traceback|Error:|Caused by|Uncaught|Unhandled|failed|failure)\b|"
    r"\b[A-Z]{2,4}-\d{4}\b|\bHTTP/\d\.\d\"? [45]\d\d\b|\bstatus[= ]?[45]\d\d\b", re.I)
STACK_FRAME = re.compile(r"^\s+(at\s+\S+|File \".+\", line \d+|\.\.\. \d+ more)|^\s{4,}\S")
ERROR_CODE = re.compile(r"\b(?:AUTH|IMP|WF|INT|REP|MOB)-\d{4}\b|\b(?:VALIDATION_FAILED|UNAUTHENTICATED|FORBIDDEN|NOT_FOUND|CONFLICT|PAYLOAD_TOO_LARGE|RATE_LIMITED|INTERNAL_ERROR|MAINTENANCE)\b")
QUOTED = re.compile(r"[\"“]([^\"”\n]{8,200})[\"”]")



@dataclass
class BoundedLog:
    text: str
    total_lines: int
    kept_lines: int
    cut_lines: int
    error_lines: list[str] = field(default_factory=list)
    note: str = ""


def decode_log(raw: bytes, name: str = "log") -> str:
    if b"\x00" in raw[:65536]:
        raise LogError(f"{name} looks binary (it contains NUL bytes); attach a text log, or the screenshot as a file reference")
    encodings = ("utf-16",) if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",)
    for encoding in encodings:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LogError(f"{name} is not UTF-8 text; export the log as UTF-8 and attach it again")


# The line that stands for the lines cut unread by ``cap_log`` (bound_log counts them from it).
_UNREAD = re.compile(r"… ([\d,]+) lines? \(([\d,]+) characters\) cut unread …")


_KEY_BEGIN, _KEY_END = "-----BEGIN ", "-----END "  # PEM armour (redact.py's private-key pattern spans the lines between)


def _unread_marker(lines: int, chars: int) -> str:
    return f"… {lines:,} line{'s' if lines != 1 else ''} ({chars:,} characters) cut unread …"


def cap_log(text: str, max_chars: int = MAX_LOG_CHARS) -> str:
    """``text`` when it fits; else its first fifth and last four fifths of ``max_chars``, cut at line
    breaks, around a line saying how much was cut unread (the end of a log says most)."""
    if len(text) <= max_chars:
        return text
    head_end = max_chars // 5
    tail_start = len(text) - (max_chars - head_end)
    nl = text.rfind("\n", 0, head_end)
    head_end = nl if nl > 0 else head_end  # at a line break when there is one
    nl = text.find("\n", tail_start)
    tail_start = nl + 1 if 0 <= nl < len(text) - 1 else tail_start
    # A private key is the one secret over several lines: never cut through one, or redaction (which
    # runs after the cut) would see half a key: a head ending inside a key ends before it, a tail
    # starting inside one starts after it.
    begin = text.rfind(_KEY_BEGIN, 0, head_end)
    if begin >= 0 and text.find(_KEY_END, begin, head_end) < 0:
        head_end = max(text.rfind("\n", 0, begin), 0)
    end = text.find(_KEY_END, tail_start)
    if end >= 0 and text.find(_KEY_BEGIN, tail_start, end) < 0:
        nl = text.find("\n", end)
        tail_start = nl + 1 if nl >= 0 else len(text)
    skipped = max(text.count("\n", head_end, tail_start) - 1, 0)  # str.count: linear, no pattern
    return f"{text[:head_end]}\n{_unread_marker(skipped, tail_start - head_end)}\n{text[tail_start:]}"


def cap_lines(text: str, max_line_chars: int = MAX_LINE_CHARS) -> str:
    """Every line cut to at most ``max_line_chars``, saying how much was cut (before any pattern reads them)."""
    if len(text) <= max_line_chars:
        return text

    def cut(ln: str) -> str:
        if len(ln) <= max_line_chars:
            return ln
        suffix = f" … ({len(ln) - max_line_chars:,} characters cut)"
        return ln[: max(0, max_line_chars - len(suffix))] + suffix

    return "\n".join(cut(ln) for ln in text.split("\n"))


def _ends(items: list, n: int) -> list:
    """The first and last ``n // 2`` of ``items`` (all of them when they fit)."""
    return items if len(items) <= n else items[: n // 2] + items[len(items) - (n - n // 2):]


def bound_log(text: str, *, max_lines: int = 400, head: int = 60, tail: int = 120, max_line_chars: int = MAX_LINE_CHARS,
              max_chars: int = MAX_LOG_CHARS, max_important: int = MAX_IMPORTANT_LINES) -> BoundedLog:
    """Head, tail and the error lines and stack frames of ``text``; the scan is linear and capped (see the module)."""
    lines = cap_log(text, max_chars).splitlines()
    unread: dict[int, int] = {}  # index of a cut-unread line -> the lines it stands for
    unread_chars = 0
    for i, ln in enumerate(lines):
        if ln.startswith("… ") and len(ln) < 100 and (m := _UNREAD.fullmatch(ln)):
            unread[i] = int(m.group(1).replace(",", ""))
            unread_chars += int(m.group(2).replace(",", ""))
    total = len(lines) + sum(n - 1 for n in unread.values())
    error_at, important = set(), []
    for i, ln in enumerate(lines):
        if i in unread:
            continue
        ln = ln[:max_line_chars]  # the patterns read a bounded line
        if ERROR_LINE.search(ln):
            error_at.add(i)
            important.append(i)
        elif STACK_FRAME.match(ln):
            important.append(i)
    frames_cut = len(important) > max_important
    important = _ends(important, max_important)
    errors = _ends(list(dict.fromkeys(lines[i].strip()[:max_line_chars] for i in important if i in error_at)), MAX_ERROR_LINES)
    if total <= max_lines:
        keep = set(range(len(lines)))
    else:
        keep = set(range(min(head, len(lines)))) | set(range(max(0, len(lines) - tail), len(lines))) | set(important)
    keep -= unread.keys()  # what was cut unread is said in a "… cut …" line like the rest
    marks, m = sorted(unread), 0  # walked once, alongside the kept lines
    out, cut, last = [], 0, -1
    for i in sorted(keep) + ([len(lines)] if lines and len(lines) - 1 in unread else []):
        if i > last + 1:
            gap = i - last - 1
            while m < len(marks) and marks[m] < i:
                gap += unread[marks[m]] - 1
                m += 1
            cut += gap
            out.append(f"… {gap:,} line{'s' if gap != 1 else ''} cut …")
        if i < len(lines):
            line = lines[i]
            out.append(line if len(line) <= max_line_chars else line[:max_line_chars] + f" … ({len(line) - max_line_chars:,} characters cut)")
        last = i
    note = ""
    if cut or unread:
        which = f"the first and last {max_important // 2:,} error lines and stack frames" if frames_cut else "every error line and stack frame"
        note = f"kept {len(keep):,} of {total:,} lines: the first {head}, the last {tail} and {which}"
        if unread:
            note += f"; {unread_chars:,} characters in the middle were not read (its first fifth and last four fifths were)"
    return BoundedLog("\n".join(out), total, len(keep), cut, errors, note)


_ERRORISH = re.compile(r"\b(error|fail\w*|invalid|denied|expired|not|cannot|could not|unable|locked|exceed\w*|timed out|cancell?ed|refused|rejected|too (large|many)|longer than)\b", re.I)


def error_messages(*texts: str, limit: int = MAX_ERROR_MESSAGES) -> list[str]:
    """Exact error codes and quoted error messages, in order of first appearance (at most ``limit``).

    Callers pass bounded texts (the draft: the capped user text and the error lines of bounded logs);
    both patterns are linear (a quote is read up to 200 characters).
    """
    found: dict[str, None] = {}
    for text in texts:
        for m in ERROR_CODE.finditer(text):
            found.setdefault(m.group(0))
        for m in QUOTED.finditer(text):
            s = m.group(1).strip()
            if _ERRORISH.search(s):
                found.setdefault(s)
    return list(found)[:limit]
