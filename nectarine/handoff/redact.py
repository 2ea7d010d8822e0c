"""Secrets are removed before anything is stored or sent: the user sees what was removed, by kind and count.

>>> redact("curl -H 'Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl' https://x")
Redacted(text="curl -H 'Authorization: Bearer [REDACTED:bearer-token]' https://x", counts={'bearer-token': 1})

Detectors, highest priority first (a span found by an earlier one is not found again by a later one):

- private keys of every PEM / OpenSSH / PGP / SSH2 / PuTTY kind, up to their END line (or, when a log
  cut the END off, to the end of the key's base64 body);
- ``Cookie:`` headers, connection-string passwords (``scheme://user:PASSWORD@host``),
  ``Authorization: Basic`` (and bare ``Basic <base64 of user:pass>``), bearer tokens, JWTs;
- vendor keys in their own formats: our patterns (Google ``AIza…``, Stripe, GitHub ``github_pat_``,
  Nectain ``nct_``) and the detector plugins of ``detect-secrets`` (AWS, Slack, GitHub, GitLab,
  Stripe, SendGrid, OpenAI, Azure ``AccountKey``, PyPI, Discord, Telegram, Mailchimp, Twilio,
  Artifactory, basic-auth URLs), used through their compiled ``denylist`` patterns;
- ``key = value`` assignments (config lines, JSON, YAML, XML, headers, query strings) whose key names
  a password, secret, token or API key, in several languages (``aws_secret_access_key``, ``Kennwort``,
  ``mot_de_passe``, ``contraseña`` …), and passwords in prose ("my password is …", "mein Passwort ist
  …", "le mot de passe est …", "mi contraseña es …"), unless the word after "is" says something
  about the password ("is incorrect", "ist abgelaufen");
- payment data: card numbers that pass Luhn and have a card scheme's prefix and length, IBANs that
  pass the mod-97 check with their country's length;
- personal data (``personal=True``, the default): e-mail addresses and phone numbers. Phone
  candidates are validated with ``phonenumbers``: international numbers (``+49 …``, ``0044 …``) always;
  national formats when they are NANP-shaped (``(415) 555-0132``) or follow a word that says they are
  a phone number (``Tel.:``, "call me on", "appelez-moi au", "llámame al" …).

Not redacted on purpose: IP addresses, UUIDs, hashes, versions, dates, ids and error codes (support
needs them), card-like numbers that fail Luhn, random hex or base64 without a key name in front.

Every pattern is bounded and anchored so that a failed match costs O(1) per position (a negative
look-behind rejects starts inside a run of the same characters), and phone validation has a budget:
a 200 KB input of any single character or repeated fragment is redacted in a few hundred ms at most.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterator

Span = tuple[int, int, str]  # start, end, kind

MARKER = re.compile(r"\[REDACTED:[a-z-]{1,40}\]")

# ---------------------------------------------------------------- private keys

_KEY_HEADER = re.compile(r"-{4,5} ?BEGIN ((?:[A-Z0-9]{1,20} ){0,4})PRIVATE KEY(?: BLOCK)?-? ?-{3,5}")
_KEY_END = re.compile(r"-{4,5} ?END (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-? ?-{3,5}")
_KEY_BODY_LINE = re.compile(r"[ \t]*(?:[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9+/]{1,15}={1,2}|=[A-Za-z0-9+/]{4}|"
                            r"(?:Proc-Type|DEK-Info|Version|Comment|Hash|Charset|Subject|Encryption):[^\r\n]{0,200}|)[ \t]*\r?")
_PUTTY = re.compile(r"(?m)^Private-Lines: ?\d{1,4}\r?\n(?:[A-Za-z0-9+/=]{1,200}\r?\n){1,400}(?:Private-MAC: ?[0-9a-fA-F]{0,128})?")
_MAX_KEY = 65_536


def _private_keys(text: str) -> Iterator[Span]:
    consumed = 0
    end_cache: tuple[int, re.Match | None] = (-1, None)  # (searched from, first END at or after it)
    for m in _KEY_HEADER.finditer(text):
        if m.start() < consumed:
            continue
        searched, end = end_cache
        if searched < 0 or (end is not None and end.start() < m.end()):
            end = _KEY_END.search(text, m.end())
            end_cache = (m.end(), end)
        if end is not None and end.end() - m.start() <= _MAX_KEY:
            stop = end.end()
        else:  # no END (a cut log): the key's body, line by line
            stop, pos, blank = m.end(), m.end(), 0
            limit = min(len(text), m.start() + _MAX_KEY)
            while pos < limit:
                nl = text.find("\n", pos, limit)
                line_end = limit if nl < 0 else nl
                if not _KEY_BODY_LINE.fullmatch(text, pos, line_end):
                    break
                blank = blank + 1 if not text[pos:line_end].strip() else 0
                if blank > 1:
                    break
                if not blank:
                    stop = line_end
                pos = line_end + 1
                if nl < 0:
                    break
        consumed = stop
        yield m.start(), stop, "private-key"
    for m in _PUTTY.finditer(text):
        yield m.start(), m.end(), "private-key"


# ---------------------------------------------------------------- headers, URLs, tokens

def _group_spans(pattern: re.Pattern, kind: str, group: int | str = 0, check: Callable[[re.Match, str], bool] | None = None):
    def detect(text: str) -> Iterator[Span]:
        for m in pattern.finditer(text):
            if m.group(group) and (check is None or check(m, text)):
                yield m.start(group), m.end(group), kind
    return detect


_COOKIE = re.compile(r"(?i)(?<![\w-])(?:set-)?cookie:[ \t]*([^\r\n]{1,8192})")
_CONNECTION = re.compile(r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"<>]{0,128}:([^\s@'\"<>/]{1,256})@(?=[\w.\[-])")
_BASIC = re.compile(r"(?i)(?<![a-z0-9])basic[ \t]+([A-Za-z0-9+/]{6,1024}={0,2})(?![A-Za-z0-9+/=])")
_BEARER = re.compile(r"(?i)(?<![a-z0-9])bearer[ \t]+([A-Za-z0-9._~+/-]{8,8192}=*)")
_AUTH_OTHER = re.compile(r"(?i)(?<![a-z0-9-])(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:token|apikey|api-key|sharedkey|key|sso-key|digest|negotiate|ntlm|hmac)[ \t]+([^\s\"',;]{6,4096})")
_AUTH_NEAR = re.compile(r"(?i)authorization")


def _after_authorization(m: re.Match, text: str) -> bool:
    return _AUTH_NEAR.search(text, max(0, m.start() - 40), m.start()) is not None


def _basic_check(m: re.Match, text: str) -> bool:
    if _after_authorization(m, text):
        return True
    try:  # a bare "Basic xyz" only when xyz is base64 of "user:password"
        decoded = base64.b64decode(m.group(1), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return ":" in decoded and decoded.isprintable()


def _bearer_check(m: re.Match, text: str) -> bool:
    token = m.group(1)
    return _after_authorization(m, text) or (len(token) >= 16 and any(c.isdigit() for c in token))


_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{5,8192}\.[A-Za-z0-9_-]{5,16384}\.(?:[A-Za-z0-9_-]{5,8192})?")

# Vendor formats not (or only partly) covered by detect-secrets; the Stripe one also takes keys longer than 24.
_VENDOR = re.compile(
    r"(?<![A-Za-z0-9_-])(?:"
    r"AIza[0-9A-Za-z_-]{35}"
    r"|(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,255}"
    r"|(?:sk|pk|rk)-(?:proj-|svcacct-)?[A-Za-z0-9_-]{20,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|gh[pousr]_[A-Za-z0-9]{30,255}"
    r"|xox[abposre]-[A-Za-z0-9-]{10,255}"
    r"|glpat-[A-Za-z0-9_-]{20,64}"
    r"|nct_[A-Za-z0-9]{16,255}"
    r"|(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[0-9A-Z]{16}"
    r")(?![A-Za-z0-9_-])")


def _detect_secrets_plugins() -> list[tuple[re.Pattern, int, str]]:
    """The compiled ``denylist`` patterns of detect-secrets' detector plugins: (pattern, group, needs)."""
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.openai import OpenAIDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    # group: which part is the secret (0 = the whole match; GitHub's group 1 is only the prefix).
    # needs: a substring the text must contain for the pattern to be worth running.
    out: list[tuple[re.Pattern, int, str]] = []
    aws = list(AWSKeyDetector.denylist)
    out += [(aws[0], 0, ""), (aws[1], 1, "")]
    out += [(p, 0, "") for p in GitHubTokenDetector.denylist]
    out += [(p, 0, "_live_") for p in StripeDetector.denylist]
    out += [(p, 0, "") for p in SlackDetector.denylist]
    out += [(p, 0, "") for p in GitLabTokenDetector.denylist]
    out += [(p, 0, "SG.") for p in SendGridDetector.denylist]
    out += [(p, 0, "T3BlbkFJ") for p in OpenAIDetector.denylist]
    out += [(p, 0, "pypi-") for p in PypiTokenDetector.denylist]
    out += [(p, 0, "AccountKey=") for p in AzureStorageKeyDetector.denylist]
    out += [(p, 0, ".") for p in DiscordBotTokenDetector.denylist]
    out += [(p, 0, ":") for p in TelegramBotTokenDetector.denylist]
    out += [(p, 0, "-us") for p in MailchimpDetector.denylist]
    out += [(p, 0, "") for p in TwilioKeyDetector.denylist]
    out += [(p, 0, "") for p in ArtifactoryDetector.denylist]
    out += [(p, 1, "://") for p in BasicAuthDetector.denylist]
    return out


_PLUGINS = _detect_secrets_plugins()
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=")


def _plugin_keys(text: str) -> Iterator[Span]:
    n = len(text)
    for pattern, group, needs in _PLUGINS:
        if needs and needs not in text:
            continue
        covered = -1
        for m in pattern.finditer(text):
            g = group if pattern.groups >= group else 0
            start, end = m.start(g), m.end(g)
            if start < 0 or end <= start or start < covered:
                continue
            while start < end and text[start] in " \t\r\n=:\"'":  # Artifactory's patterns include the delimiters
                start += 1
            while end > start and text[end - 1] in " \t\r\n\"'":
                end -= 1
            if group == 0:
                if start > 0 and text[start - 1].isalnum() and not text[start:].startswith(("AccountKey=", "https://")):
                    continue  # inside a longer word: not a key of that format
                while end < n and text[end] in _TOKEN_CHARS:  # a key longer than the pattern's fixed length
                    end += 1
            if text.startswith("AccountKey=", start):
                start += len("AccountKey=")
            covered = end
            yield start, end, "api-key"


# ---------------------------------------------------------------- key = value, and passwords in prose

_PASSWORD_WORDS = r"pass(?:word|wd|phrase|wort|code)|kennwort|contrase(?:ñ|n)a|mot_?de_?passe|motdepasse|senha|wachtwoord|has(?:ł|l)o|salasana|lösenord|adgangskode"
_SHORT_PASSWORD_WORDS = r"pass|pwd|pw|mdp|passwd"
_SESSION_WORDS = r"session(?:_?id)?|sid|csrf(?:_?token)?|xsrf(?:-?token)?|refresh_?token|access_?token|id_?token|session_?token"
_KEY_WORDS = (r"secret(?:[_-]?(?:access)?[_-]?key)?|client[_-]?secret|api[_-]?key|apikey|api[_-]?token|auth[_-]?token|token"
              r"|access[_-]?key(?:[_-]?id)?|account[_-]?key|auth[_-]?key|private[_-]?token|private[_-]?key|encryption[_-]?key"
              r"|master[_-]?key|signing[_-]?key|license[_-]?key|credentials?|webhook[_-]?secret|bearer[_-]?token")
_ASSIGN = re.compile(
    r"(?i)(?<![A-Za-z0-9_.-])(?=[\"']?[A-Za-z0-9_.-])[\"']?"
    r"(?:(?P<sess>(?:[A-Za-z0-9_.-]{0,40}?[_.-])?(?:" + _SESSION_WORDS + r"))"
    r"|(?P<pw>[A-Za-z0-9_.-]{0,40}?(?:" + _PASSWORD_WORDS + r")|(?:[A-Za-z0-9_.-]{0,40}?[_.-])?(?:" + _SHORT_PASSWORD_WORDS + r"))"
    r"|(?P<key>[A-Za-z0-9_.-]{0,40}?(?:" + _KEY_WORDS + r")))"
    r"(?![A-Za-z0-9])[\"']?[ \t]*(?:=>|:=|::|=|:)[ \t]*"
    r"(?:\"(?P<v1>[^\"\r\n]{1,512})\"|'(?P<v2>[^'\r\n]{1,512})'|(?P<v3>[^\s\"'<>;,&)}\]]{1,512}))")
_ASSIGN_XML = re.compile(r"(?i)<((?:[a-z0-9_.-]{0,40}?)(?:password|passwd|secret|token|api[_-]?key|apikey))>([^<\r\n]{1,512})</")
_ASSIGN_FLAG = re.compile(r"(?i)(?<![\w-])--(?:password|passwd|token|api-key|secret|client-secret)[ \t]+([^\s\"'-][^\s\"']{0,511})")
_NOT_A_VALUE = re.compile(r"(?i)(?:true|false|null|none|nil|yes|no|on|off|\*+|x{3,}|\$\{[^}]*\}?|\$[A-Z_]+|%\(?[a-z_]*\)?s?|<[^>]*>?|\{\{.*|\[redacted.*|redacted|changeme|required|optional|string|password|secret|token|\d{1,3})")


def _assignments(text: str) -> Iterator[Span]:
    for m in _ASSIGN.finditer(text):
        g = "v1" if m.group("v1") is not None else "v2" if m.group("v2") is not None else "v3"
        value = m.group(g)
        kind = "session-token" if m.group("sess") else "password" if m.group("pw") else "api-key"
        stripped = value.strip()
        if not stripped or _NOT_A_VALUE.fullmatch(stripped):
            continue
        if kind != "password" and len(stripped) < 6:
            continue
        yield m.start(g), m.end(g), kind
    for m in _ASSIGN_XML.finditer(text):
        yield m.start(2), m.end(2), "password" if re.search("(?i)pass", m.group(1)) else "api-key"
    for m in _ASSIGN_FLAG.finditer(text):
        yield m.start(1), m.end(1), "password"


_PROSE = re.compile(
    r"(?i)(?<![\w])(?:password|passwort|passwd|passphrase|kennwort|mot de passe|contraseña|contrasena|clave|senha|wachtwoord|hasło|pw|mdp)"
    r"(?:[ \t]+(?:for|of|to|für|fürs|zum|zur|vom|von|de|du|des|del|pour|para|van|voor)(?:[ \t]+[^\s:=,.]{1,30}){1,3}?)?"
    r"[ \t]*(?P<verb>is|was|ist|lautet|war|wäre|est|était|es|era|è|é|is now|ist jetzt|:|=)[ \t]*[\"'“„«‘]?[ \t]*"
    r"(?P<value>[^\s\"'”“»’]{2,128})")
_STOP = frozenset("""
not too incorrect wrong invalid required expired correct empty missing being still now case-sensitive case long short the a an
set reset changed weak strong same different at in on only very also always never no ok fine accepted rejected unknown locked
blocked stored saved shown visible hidden encrypted hashed known unchanged valid forgotten lost mandatory optional there here
falsch abgelaufen ungültig nicht zu korrekt richtig leer erforderlich noch gesperrt geändert bekannt gleich falsches
incorrect incorrecte expiré expirée invalide trop pas vide requis obligatoire faux erroné bloqué correct
incorrecta incorrecto demasiado caducada caducado inválida inválido vacía vacío obligatoria bloqueada muy errónea
""".split())


def _prose_passwords(text: str) -> Iterator[Span]:
    for m in _PROSE.finditer(text):
        verb = m.group("verb")
        start, end = m.start("value"), m.end("value")
        while end > start and text[end - 1] in ".,;:)":
            end -= 1
        value = text[start:end]
        if not value or (verb not in (":", "=") and value.lower() in _STOP):
            continue
        if MARKER.fullmatch(value) or _NOT_A_VALUE.fullmatch(value) and verb not in (":", "="):
            continue
        yield start, end, "password"


# ---------------------------------------------------------------- payment data

_CARD = re.compile(r"(?<![\d.,])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?|\d{4}([ -]?)\d{6}\2\d{4,5})(?![\d]|[.,]\d)")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_scheme(d: str) -> bool:
    n, p2, p4 = len(d), int(d[:2]), int(d[:4])
    return ((d[0] == "4" and n in (13, 16, 19))                              # Visa
            or (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16          # Mastercard
            or p2 in (34, 37) and n == 15                                  # Amex
            or (d.startswith("6011") or p2 == 65 or 644 <= int(d[:3]) <= 649) and 16 <= n <= 19  # Discover
            or 3528 <= p4 <= 3589 and 16 <= n <= 19                        # JCB
            or (p2 in (36, 38, 39) or 300 <= int(d[:3]) <= 305) and 14 <= n <= 19  # Diners
            or p2 == 62 and 16 <= n <= 19)                                 # UnionPay


def _cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        digits = m.group(0).replace(" ", "").replace("-", "")
        if 13 <= len(digits) <= 19 and _card_scheme(digits) and luhn_ok(digits):
            yield m.start(), m.end(), "card-number"


IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CR": 22,
    "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
    "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30,
    "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27,
    "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")


def iban_ok(compact: str) -> bool:
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        length = IBAN_LENGTHS.get(m.group(0)[:2])
        if not length:
            continue
        # the IBAN may be followed by another group of capitals ("… 00 BIC"): keep only `length` characters
        pos, seen = m.start(), 0
        while pos < m.end() and seen < length:
            seen += text[pos] != " "
            pos += 1
        if seen == length and (pos == m.end() or text[pos] == " ") and iban_ok(text[m.start():pos].replace(" ", "")):
            yield m.start(), pos, "iban"


# ---------------------------------------------------------------- personal data

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![\w-])")


def _emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        if not m.group(0).startswith("git@"):
            yield m.start(), m.end(), "email"


_PHONE_CANDIDATE = re.compile(r"(?<![\w+/.:-])(?:\+|00)?(?:\(\d{1,4}\)|\d)[\d \u00a0().\-/]{5,40}\d(?![\w/-]|[.:,]\d)")
_NANP = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}")
_PHONE_CONTEXT = re.compile(
    r"(?i)(?:phone|tel\b|tel\.|telephone|call|ring|cell|mobile|whatsapp|sms|fax|text me|reach me|contact|number|hotline"
    r"|telefon|handy|mobil|rufnummer|erreich|anruf|rufen|nummer|rückruf"
    r"|téléphone|appel|portable|numéro|joindre"
    r"|teléfono|llam|móvil|movil|número|celular|whatsapp)[^\n]{0,25}$")
_REGIONS_BY_CONTEXT = (("DE", re.compile(r"(?i)telefon|handy|mobil|rufnummer|erreich|anruf|rufen|nummer|rückruf")),
                       ("FR", re.compile(r"(?i)téléphone|appel|portable|numéro|joindre")),
                       ("ES", re.compile(r"(?i)teléfono|llam|móvil|movil|número|celular")))
_FALLBACK_REGIONS = ("DE", "GB", "FR", "ES", "US", "IT", "NL", "AT", "CH")
_PHONE_BUDGET = 3000  # phonenumbers validations per call; past it, international and NANP-shaped candidates are redacted unvalidated


@lru_cache(maxsize=4096)
def _valid_phone(candidate: str, region: str | None) -> tuple[tuple[int, int], ...]:
    """Spans of valid phone numbers inside a short candidate (phonenumbers' matcher, leniency VALID)."""
    import phonenumbers

    try:
        return tuple((m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(candidate, region or "ZZ", leniency=phonenumbers.Leniency.VALID, max_tries=20))
    except Exception:  # noqa: BLE001 - a parser failure on odd input is "not a phone number"
        return ()


def _phones(text: str) -> Iterator[Span]:
    budget = _PHONE_BUDGET
    for m in _PHONE_CANDIDATE.finditer(text):
        cand = m.group(0)
        digits = sum(c.isdigit() for c in cand)
        international = cand.startswith(("+", "00"))
        if digits < 7:  # (a candidate may hold several numbers: the matcher finds each)
            continue
        shaped = international or _NANP.search(cand) is not None
        if international:
            regions: tuple[str | None, ...] = ("ZZ",)
            probe = "+" + cand[2:] if cand.startswith("00") else cand
        else:
            before = text[max(0, m.start() - 40):m.start()]
            if shaped:
                regions = ("US",)
            elif _PHONE_CONTEXT.search(before):
                preferred = [r for r, rx in _REGIONS_BY_CONTEXT if rx.search(before)]
                regions = tuple(preferred + [r for r in _FALLBACK_REGIONS if r not in preferred])
            else:
                continue
            probe = cand
        if budget <= 0:
            if international and digits <= 15:
                yield m.start(), m.end(), "phone"
            elif shaped:
                for n in _NANP.finditer(cand):
                    yield m.start() + n.start(), m.start() + n.end(), "phone"
            continue
        for region in regions:
            budget -= 1
            spans = _valid_phone(probe, region)
            if spans:
                shift = len(cand) - len(probe)
                for s, e in spans:
                    yield m.start() + (s + shift if s else 0), m.start() + e + shift, "phone"
                break


# ---------------------------------------------------------------- putting it together

SECRET_DETECTORS: list[Callable[[str], Iterator[Span]]] = [
    _private_keys,
    _group_spans(_COOKIE, "cookie", 1),
    _group_spans(_CONNECTION, "connection-string", 1),
    _group_spans(_BASIC, "basic-auth", 1, _basic_check),
    _group_spans(_BEARER, "bearer-token", 1, _bearer_check),
    _group_spans(_AUTH_OTHER, "api-key", 1),
    _group_spans(_JWT, "jwt"),
    _group_spans(_VENDOR, "api-key"),
    _plugin_keys,
    _assignments,
    _prose_passwords,
    _cards,
    _ibans,
]
PERSONAL_DETECTORS: list[Callable[[str], Iterator[Span]]] = [_emails, _phones]


@dataclass
class Redacted:
    text: str
    counts: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}{'s' if n > 1 else ''}" for kind, n in sorted(self.counts.items())) or "nothing"


def redact(text: str, *, personal: bool = True) -> Redacted:
    """Replace secrets, payment data and (with ``personal``, the default) e-mail addresses and phone
    numbers with ``[REDACTED:kind]``. Idempotent: markers already in the text are left alone."""
    if not text:
        return Redacted(text, {})
    taken = bytearray(len(text))  # 1 where a marker or an accepted span already is
    for m in MARKER.finditer(text):
        taken[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    accepted: list[Span] = []
    for detect in SECRET_DETECTORS + (PERSONAL_DETECTORS if personal else []):
        for start, end, kind in detect(text):
            if end <= start or taken.find(1, start, end) != -1:
                continue
            taken[start:end] = b"\x01" * (end - start)
            accepted.append((start, end, kind))
    if not accepted:
        return Redacted(text, {})
    accepted.sort()
    parts, pos, counts = [], 0, Counter()
    for start, end, kind in accepted:
        parts += [text[pos:start], f"[REDACTED:{kind}]"]
        counts[kind] += 1
        pos = end
    parts.append(text[pos:])
    return Redacted("".join(parts), dict(counts))
