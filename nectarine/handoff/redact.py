"""Secrets are removed before anything is stored or sent: the user sees what was removed, by kind and count.

>>> redact("curl -H 'Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl' https://x")
Redacted(text="curl -H 'Authorization: Bearer [REDACTED:bearer-token]' https://x", counts={'bearer-token': 1})
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# Order matters: the most specific patterns run first, so a private key is not also counted as a token.
SECRET_PATTERNS: list[tuple[str, re.Pattern, int]] = [
    ("private-key", re.compile(r"-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----.*?(?:-----END (?:[A-Z ]+ )?PRIVATE KEY-----|\Z)", re.S), 0),
    ("connection-string", re.compile(r"\b([a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"]+:)([^\s@'\"]+)(@)", re.I), 2),
    ("bearer-token", re.compile(r"\b(Bearer\s+)([A-Za-z0-9\-._~+/]{8,}=*)", re.I), 2),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\b"), 0),
    ("api-key", re.compile(r"\b(sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{16,}\b|\bAKIA[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abpr]-[A-Za-z0-9-]{10,}\b|\bnct_[A-Za-z0-9]{16,}\b"), 0),
    ("cookie", re.compile(r"((?:Set-)?Cookie:\s*)([^\r\n]+)", re.I), 2),
    ("session-token", re.compile(r"\b((?:session(?:_?id)?|sid|csrf(?:_?token)?|xsrf-token|refresh_token|access_token|id_token)\s*[=:]\s*[\"']?)([^\s\"';,&]{6,})", re.I), 2),
    ("api-key", re.compile(r"\b((?:api[_-]?key|apikey|secret|client[_-]?secret|token|auth[_-]?token|x-api-key)\s*[=:]\s*[\"']?)([^\s\"';,&]{6,})", re.I), 2),
    ("password", re.compile(r"\b((?:password|passwd|pwd|pass|passwort|mot de passe|contraseña|senha|hasło)\s*[=:]\s*[\"']?)([^\s\"';,&]{1,})", re.I), 2),
]
PERSONAL_PATTERNS: list[tuple[str, re.Pattern, int]] = [
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"), 0),
    # A phone number: with a country code, or right after a word that says it is one (never a timestamp).
    ("phone", re.compile(r"(?<![\w+])\+\d{1,3}[ .-]?\(?\d{1,4}\)?(?:[ .-]?\d{2,5}){2,4}(?![\w-])"), 0),
    ("phone", re.compile(r"((?:phone|tel|mobile|cell|call me (?:on|at)|handy|téléphone|telefono|teléfono|telefon)\W{0,3})(\(?\d[\d ().-]{6,}\d)", re.I), 2),
]


@dataclass
class Redacted:
    text: str
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in sorted(self.counts.items())) or "nothing"


def redact(text: str, *, personal: bool = False) -> Redacted:
    """Replace secrets (and, with ``personal``, emails and phone numbers) with ``[REDACTED:kind]``."""
    counts: Counter[str] = Counter()
    for kind, pattern, group in SECRET_PATTERNS + (PERSONAL_PATTERNS if personal else []):
        def sub(m: re.Match, kind=kind, group=group) -> str:
            if "[REDACTED:" in m.group(0):
                return m.group(0)
            counts[kind] += 1
            if group == 0:
                return f"[REDACTED:{kind}]"
            start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
            whole = m.group(0)
            return whole[:start] + f"[REDACTED:{kind}]" + whole[end:]

        text = pattern.sub(sub, text)
    return Redacted(text, dict(counts))
