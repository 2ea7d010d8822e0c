"""Pasted or attached logs: bounded in size, never by dropping the lines that matter.

A multi-megabyte log keeps its head, its tail and every error line and stack-trace frame; what was
cut is said in place ("… 41,212 lines cut …"). Error messages and codes are pulled out for the ticket.

>>> bounded = bound_log(text, max_lines=400)   # doctest: +SKIP
>>> bounded.error_lines[:1]                    # doctest: +SKIP
['2026-11-20 09:14:03 ERROR AuthService - AUTH-1003 SSO assertion could not be validated.']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ERROR_LINE = re.compile(
    r"\b(ERROR|FATAL|CRITICAL|SEVERE|PANIC|Exception|Traceback|Error:|Caused by|Uncaught|Unhandled|failed|failure)\b|"
    r"\b[A-Z]{2,4}-\d{4}\b|\bHTTP/\d\.\d\"? [45]\d\d\b|\bstatus[= ]?[45]\d\d\b", re.I)
STACK_FRAME = re.compile(r"^\s+(at\s+\S+|File \".+\", line \d+|\.\.\. \d+ more)|^\s{4,}\S")
ERROR_CODE = re.compile(r"\b(?:AUTH|IMP|WF|INT|REP|MOB)-\d{4}\b|\b(?:VALIDATION_FAILED|UNAUTHENTICATED|FORBIDDEN|NOT_FOUND|CONFLICT|PAYLOAD_TOO_LARGE|RATE_LIMITED|INTERNAL_ERROR|MAINTENANCE)\b")
QUOTED = re.compile(r"[\"“]([^\"”\n]{8,200})[\"”]")


class LogError(ValueError):
    """A log that cannot be attached as text."""


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


def bound_log(text: str, *, max_lines: int = 400, head: int = 60, tail: int = 120, max_line_chars: int = 2000) -> BoundedLog:
    lines = text.splitlines()
    total = len(lines)
    important = {i for i, ln in enumerate(lines) if ERROR_LINE.search(ln) or STACK_FRAME.match(ln)}
    errors = [lines[i].strip()[:max_line_chars] for i in sorted(important) if ERROR_LINE.search(lines[i])]
    if total <= max_lines:
        keep = set(range(total))
    else:
        keep = set(range(min(head, total))) | set(range(max(0, total - tail), total)) | important
    out, cut, last = [], 0, -1
    for i in sorted(keep):
        if i > last + 1:
            gap = i - last - 1
            cut += gap
            out.append(f"… {gap:,} line{'s' if gap > 1 else ''} cut …")
        line = lines[i]
        out.append(line if len(line) <= max_line_chars else line[:max_line_chars] + f" … ({len(line) - max_line_chars:,} characters cut)")
        last = i
    note = f"kept {len(keep):,} of {total:,} lines: the first {head}, the last {tail} and every error line and stack frame" if cut else ""
    return BoundedLog("\n".join(out), total, len(keep), cut, errors, note)


def error_messages(*texts: str) -> list[str]:
    """Exact error codes and quoted error messages, in order of first appearance."""
    found: list[str] = []
    for text in texts:
        for m in ERROR_CODE.finditer(text):
            found.append(m.group(0))
        for m in QUOTED.finditer(text):
            s = m.group(1).strip()
            if re.search(r"\b(error|fail\w*|invalid|denied|expired|not|cannot|could not|unable|locked|exceed\w*|timed out|cancell?ed|refused|rejected|too (large|many)|longer than)\b", s, re.I):
                found.append(s)
    return list(dict.fromkeys(found))
