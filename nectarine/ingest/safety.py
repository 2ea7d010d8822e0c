"""Poisoned content: passages that ask the reader to send secrets, or to contact someone outside Nectain.

A knowledge base is written by many hands, and one hostile edit ("to verify your account, email your
current password to help@nectain-verify.net") must never come back as the assistant's advice. The
offline answerer only ever quotes the docs, but quoting that sentence is exactly the harm. So every
chunk is classified at ingest by :func:`unsafe_reasons`, a pure function of its text:

Detection rules (applied sentence by sentence; all regexes are linear or tightly bounded):

1. **A request to send a secret** (category ``asks to send credentials, secrets, payment or personal
   data``): a send-like verb in request position, then (within a few words) *your/the/their...* and a
   secret: password, passcode, PIN, credentials, one-time / MFA / verification code, API key or token,
   private key, recovery phrase, card number, CVV/CVC, expiry date, bank details, IBAN, SSN, passport,
   date of birth, personal data.

   * English: verbs that imply a recipient (*email, mail, forward, share, give, tell, text, DM,
     disclose, reply/respond ... with*) count on their own; verbs that do not (*send, submit, post,
     paste, enter, type, upload, provide, include, confirm, verify*) count only with a destination in
     the same sentence: an email address, a URL or domain outside the trusted ones, *to us*, *to the
     security team*, *by email*, *via the form*, *in a reply / chat / ticket*. So "enter your password
     on the sign-in page" and "send the token as a Bearer header" are not requests.
   * German, French, Spanish: the imperative or an infinitive after *bitte / veuillez / debe...*,
     with a possessive (*Ihr, dein; votre, ton; su, tu*) before the secret, in the same clause
     ("Senden Sie Ihr Passwort an ...", "envoyez votre mot de passe à ...", "envíe su contraseña a ...").
   * Request position (English): the start of a sentence, clause or list item, or after *please,
     then, and, to, you must / should / need to ...*; so "an admin can reset a user's password" or
     "Nectain sends a one-time code to your phone" is not a request.
   * Negated requests are advice, not requests: *never, do not, don't, without, nie, nicht, jamais,
     ne ... pas, nunca, no* in the few words before the verb (or, in German/French/Spanish, in the
     clause): "never share your API key", "Nectain will never ask you to send your password".
     A warning about phishing ("attackers may ask you to email your password") is not a request either.

2. **Contact outside the trusted domains** (category ``points to an address outside the trusted
   domains``): an email address outside the trusted domains anywhere in the prose (fenced code
   blocks, such as a JSON payload, are examples, not contacts), or a URL or domain outside them in a
   sentence that directs the reader there (*visit, go to, open, log in, verify, confirm, enter, fill
   in, submit, pay, click, download, call, contact*, and the German, French and Spanish equivalents)
   or that also names a secret. A URL merely listed (an identity provider's discovery URL, a link
   to the docs' source repository) is not flagged.

Trusted domains (each with its subdomains): ``nectain.com``, ``nectain.cloud`` (the Cloud workspaces'
own addresses), ``example.com``, ``example.org``, ``example.net`` (examples in the docs),
``localhost``, ``127.0.0.1`` and the reserved test TLDs ``.example``, ``.test``, ``.invalid``,
``.localhost``; more may be added with the ``trusted_domains`` argument of
:func:`nectarine.ingest.pipeline.ingest` (the CLI and the service pass ``NECTARINE_TRUSTED_DOMAINS``
there; this module never reads the environment).

What happens to a flagged chunk: its reasons are stored on the chunk (``Chunk.flags``), the
ingest report lists it (``IngestReport.flagged``; the CLI prints a table), ``search()`` still returns
it with its flags so the docs team can find it, and ``ask()`` never uses the flagged block as
evidence (see :mod:`nectarine.assistant`). An administrator who has checked a page can allow it:
``Nectarine.load(index, allow_flagged=["docs/how-to/page", ...])`` (document ids or paths; ``"*"``
allows every page).

>>> unsafe_reasons("To verify your account, email your current password to help@nectain-verify.net.")
['asks to send credentials, secrets, payment or personal data', 'points to an address outside the trusted domains (nectain-verify.net)']
>>> unsafe_reasons("Never share your API key. Enter your password on the sign-in page.")
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

RULES_VERSION = 1  # bump when the rules change: the next ingest re-classifies every chunk

SEND_SECRET = "asks to send credentials, secrets, payment or personal data"
OUTSIDE = "points to an address outside the trusted domains"

DEFAULT_TRUSTED = ("nectain.com", "nectain.cloud", "example.com", "example.org", "example.net", "localhost", "127.0.0.1")
RESERVED_TLDS = ("example", "test", "invalid", "localhost")


@dataclass
class Flagged:
    """A chunk kept out of answers, as the ingest report lists it."""

    doc_id: str
    path: str
    heading: str
    reasons: list[str] = field(default_factory=list)
    chunk_id: str = ""


def trusted_domains(extra: Iterable[str] | None = None) -> tuple[str, ...]:
    """The default trusted domains and ``extra``; lower-case, sorted.

    >>> trusted_domains(["Partner-Support.com"])[-1]
    'partner-support.com'
    """
    out = {d.strip().lower().lstrip(".") for d in (*DEFAULT_TRUSTED, *(extra or ())) if d and d.strip()}
    return tuple(sorted(out))


def is_trusted(host: str, trusted: Iterable[str]) -> bool:
    host = host.lower().rstrip(".")
    if host.rsplit(".", 1)[-1] in RESERVED_TLDS:
        return True
    return any(host == t or host.endswith("." + t) for t in trusted)


def reason_category(reason: str) -> str:
    """A reason without its detail (the domain), for messages shown to users."""
    return reason.split(" (", 1)[0]


# --------------------------------------------------------------------------- vocabulary

_W = r"[\w'’-]+"  # a word
_GAP = rf"(?:{_W}\s+){{0,3}}?"  # up to three words (adjectives: "current", "full", "16-digit")

_SECRET_EN = (
    r"(?:pass(?:words?|wd|phrases?|codes?)|pins?|credentials|(?:log-?in|sign-?in|account|bank|card|payment)\s+(?:details|info(?:rmation)?|data)"
    r"|user\s*names?\s+and\s+passwords?|(?:one-time|verification|mfa|2fa|two-factor|security|authentication|authenticator"
    r"|log-?in|sign-?in|otp|recovery|backup|reset|sms)\s+codes?|otps?|totp|(?:api|access|auth|bearer|session|refresh|scim|oauth)\s+(?:keys?|tokens?)"
    r"|tokens?|secrets?|secret\s+keys?|client\s+secrets?|private\s+keys?|ssh\s+keys?|recovery\s+(?:keys?|phrases?)|seed\s+phrases?"
    r"|(?:credit|debit|bank|payment)\s+cards?(?:\s+(?:numbers?|details))?|card\s+numbers?|cvv2?|cvc2?|expiry\s+date|expiration\s+date"
    r"|bank\s+account(?:\s+(?:numbers?|details))?|iban|routing\s+numbers?|sort\s+codes?|account\s+numbers?|ssn|social\s+security\s+numbers?"
    r"|tax\s+(?:id|numbers?)|passport(?:\s+numbers?)?|date\s+of\s+birth|id\s+card|personal\s+(?:data|details|information)|home\s+address)"
)
_SECRET_DE = (
    r"(?:passw(?:ort|örter)|kennw(?:ort|örter)|zugangsdaten|anmeldedaten|login-?daten|pin|tan|einmal-?codes?|bestätigungscodes?"
    r"|sicherheitscodes?|verifizierungscodes?|(?:mfa|2fa)-codes?|api-?schlüssel|api-?keys?|api-?tokens?|tokens?|zugangstokens?"
    r"|privaten?\s+schlüssel|kreditkarten(?:nummer|daten)?|kartennummer|kartendaten|cvv|cvc|prüfnummer|bankdaten|bankverbindung|iban"
    r"|kontonummer|sozialversicherungsnummer|steuer-?id|personalausweis(?:nummer)?|geburtsdatum|persönlichen\s+daten|daten)"
)
_SECRET_FR = (
    r"(?:mots?\s+de\s+passe|identifiants|codes?\s+(?:de\s+vérification|à\s+usage\s+unique|de\s+sécurité|mfa|2fa|d'authentification|pin)"
    r"|code|clés?\s+(?:api|privées?)|jetons?(?:\s+(?:api|d'accès))?|numéro\s+de\s+(?:carte|sécurité\s+sociale|compte)|carte\s+bancaire"
    r"|cryptogramme|cvv|cvc|coordonnées\s+bancaires|rib|iban|date\s+de\s+naissance|données\s+personnelles)"
)
_SECRET_ES = (
    r"(?:contraseñas?|claves?(?:\s+(?:api|privadas?))?|credenciales|códigos?(?:\s+(?:de\s+verificación|de\s+seguridad|de\s+un\s+solo\s+uso|mfa|2fa))?"
    r"|pin|tokens?|número\s+de\s+(?:(?:la\s+)?tarjeta|seguridad\s+social|cuenta)|tarjeta\s+de\s+crédito|cvv|cvc|datos\s+bancarios"
    r"|datos\s+de\s+(?:la\s+)?tarjeta|iban|fecha\s+de\s+nacimiento|datos\s+personales|dni)"
)
_ANY_SECRET = re.compile(rf"\b(?:{_SECRET_EN}|{_SECRET_DE}|{_SECRET_FR}|{_SECRET_ES})\b", re.I)

_DET_EN = r"(?:your|the|their|his|her|my|our|any|all|both|a\s+copy\s+of\s+your|a\s+photo\s+of\s+your)"
_PARTICLE = r"(?:\s+(?:us|me|him|her|them|it|back|over|along|directly|immediately|now|securely|here|below|also))*"
_STRONG = r"(?:e-?mail|mail|forward|share|give|tell|text|dm|disclose|reveal|read\s+out|whatsapp)"
_WEAK = r"(?:send|submit|post|paste|enter|type|upload|provide|include|put|fill\s+in|confirm|verify|input|attach|hand\s+over)"
_REQ_EN = re.compile(
    rf"\b(?P<verb>{_STRONG}|{_WEAK}){_PARTICLE}\s+{_DET_EN}\s+{_GAP}(?P<secret>{_SECRET_EN})\b"
    rf"|\b(?P<rverb>reply|respond|answer)\b[^.!?\n]{{0,40}}?\bwith\s+{_DET_EN}\s+{_GAP}(?P<rsecret>{_SECRET_EN})\b",
    re.I,
)
_WEAK_RE = re.compile(rf"^{_WEAK}$", re.I)
# What may stand just before a request: the start of a sentence, clause or list item, or a word that
# introduces an instruction. Checked on the text before the verb, so it is anchored at its end.
_LEAD_EN = re.compile(
    r"(?:^|[:;,(\-–—*>]|\b(?:please|pls|kindly|then|and|or|now|first|next|simply|just|also|immediately|urgently|quickly"
    r"|to|must|should|you(?:'ll| will)?(?:\s+\w+)?\s+(?:must|should|need\s+to|have\s+to|can|may)|so))\s*$",
    re.I,
)
_NEG_EN = re.compile(r"\b(?:never|not|no|nobody|without|avoid|refuse|neither|nor)\b|n't\b|\bno\s+one\b", re.I)
_WARNING_EN = re.compile(r"\b(?:phish\w*|scam\w*|fraud\w*|attackers?|criminals?|impersonat\w*|suspicious|fake|someone|anyone)\b", re.I)
_ASKED_TO = re.compile(r"\b(?:ask|asks|asking|asked|tell|tells|request|requests|want|wants|trick|tricks|urge|urges|pressure)\s+(?:you\s+|users\s+|people\s+)?to\s*$", re.I)
_DEST_EN = re.compile(
    r"\bto\s+(?:us|me|our\b|(?:the\s+)?(?:support|security|billing|verification|help|it|admin|account|fraud)\w*(?:\s+(?:desk|team|department))?)"
    r"|\bsend\s+us\b|\bby\s+(?:e-?mail|phone|text|sms|chat|whatsapp|telegram|post)\b"
    r"|\bvia\s+(?:e-?mail|(?:the|a|our|this)\s+form|form|chat|text|sms|whatsapp|telegram|dm|message|link)\b"
    r"|\b(?:in|into)\s+(?:a|an|the|this|your|our)?\s*(?:reply|e-?mail|message|chat|comment|ticket|forum|post|dm|form)\b"
    r"|\bthrough\s+(?:the|a|our|this)\s+(?:form|link|page)\b",
    re.I,
)

# German, French, Spanish: (verbs that count anywhere, verbs that need a lead word in the clause,
# the lead words, a possessive before the secret, negations).
_OTHER = [
    (   # German
        re.compile(r"\b(?:sende|schick|schicke|maile|übermittle|teile|nenne|leite)\b"
                   r"|\b(?:senden|schicken|mailen|e-mailen|übermitteln|teilen|nennen|mitteilen|weiterleiten|antworten)\s+sie\b", re.I),
        re.compile(r"\b(?:senden|schicken|mailen|e-mailen|übermitteln|teilen|nennen|mitteilen|weiterleiten)\b", re.I),
        re.compile(r"\b(?:bitte|müssen|muss|sollen|sollten|solltest|müssten|zu)\b", re.I),
        re.compile(rf"\b(?:ihr|ihre|ihren|ihrer|ihres|dein|deine|deinen|deiner)\s+{_GAP}{_SECRET_DE}\b", re.I),
        re.compile(r"\b(?:nie|niemals|nicht|kein|keine|keinen|keinesfalls|niemand|niemandem|ohne)\b", re.I),
    ),
    (   # French
        re.compile(r"\b(?:envoyez|transmettez|communiquez|partagez|donnez|indiquez|fournissez|répondez|renvoyez|collez|confirmez)\b", re.I),
        re.compile(r"\b(?:envoyer|transmettre|communiquer|partager|donner|indiquer|fournir|répondre|coller|confirmer"
                   r"|envoie|transmets|communique|partage|donne|indique|fournis|réponds|colle|confirme)\b", re.I),
        re.compile(r"(?:^\s*|\b(?:veuillez|merci\s+de|merci\s+d'|devez|dois|faut|pouvez)\s*)$|\b(?:veuillez|merci\s+de|merci\s+d'|devez|dois|faut)\b", re.I),
        re.compile(rf"\b(?:votre|vos|ton|ta|tes)\s+{_GAP}{_SECRET_FR}\b", re.I),
        re.compile(r"\b(?:ne|n'|jamais|pas|aucun|aucune|personne|sans)\b|\bn'", re.I),
    ),
    (   # Spanish
        re.compile(r"\b(?:envíe|envie|envíenos|envienos|mande|comparta|proporcione|facilite|indique|responda|reenvíe|comunique|confirme)\b", re.I),
        re.compile(r"\b(?:envía|envia|enviar|envíanos|manda|mandar|comparte|compartir|proporciona|proporcionar|facilita|facilitar"
                   r"|indica|indicar|responde|responder|comunicar|confirmar)\b", re.I),
        re.compile(r"\b(?:por\s+favor|debe|debes|deberá|tiene\s+que|tienes\s+que|hay\s+que|necesita|necesitas)\b", re.I),
        re.compile(rf"\b(?:su|sus|tu|tus|vuestra|vuestro)\s+{_GAP}{_SECRET_ES}\b", re.I),
        re.compile(r"\b(?:no|nunca|jamás|jamas|nadie|ningún|ninguna|sin)\b", re.I),
    ),
]

_DIRECTIVE = re.compile(
    r"\b(?:visit|go\s+to|open|navigate\s+to|head\s+(?:over\s+)?to|log\s*in|sign\s*in|verify|confirm|enter|fill\s+in|fill\s+out|submit|pay"
    r"|update|click|tap|download|install|call|contact|e-?mail|write\s+to|send|reply|register|complete|follow\s+(?:this|the)\s+link"
    r"|besuchen|gehen\s+sie|öffnen|melden\s+sie\s+sich|bestätigen|klicken|kontaktieren|schreiben\s+sie|senden\s+sie|anrufen"
    r"|rendez-vous|allez|visitez|connectez-vous|cliquez|confirmez|vérifiez|remplissez|contactez|écrivez|envoyez"
    r"|visite|vaya|ingrese|inicie\s+sesión|haga\s+clic|confirme|verifique|complete|rellene|contacte|escriba|envíe)\b",
    re.I,
)

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})\b")
_URL = re.compile(r"\b(?:https?|ftp)://(?:[^\s/@]{1,64}@)?([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]{2,45}\])", re.I)
_BARE = re.compile(
    r"(?<![\w@./-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,6}"
    r"(?:com|net|org|io|co|info|biz|app|dev|xyz|ru|cn|top|online|site|link|click|support|help|shop|live|tk|ml|ga|cf|gq|ly|cc|ws"
    r"|de|fr|es|uk|eu|ch|nl|pl|br))(?![\w-])",
    re.I,
)
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(```|~~~)[ \t]*([^`\s]*)")


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks, including a block the chunker cut in two.

    A passage with an odd number of fences starts inside a block when its first fence is a bare
    closing one (no language); otherwise the block runs to the passage's end.
    """
    lines = text.split("\n")
    fences = [(i, m) for i, m in ((i, _FENCE_LINE.match(ln)) for i, ln in enumerate(lines)) if m]
    in_code = len(fences) % 2 == 1 and not fences[0][1].group(2) and fences[0][0] > 0
    out = []
    for i, line in enumerate(lines):
        if _FENCE_LINE.match(line):
            in_code = not in_code
            continue
        if not in_code:
            out.append(line)
    return "\n".join(out)
_SENTENCES = re.compile(r"(?<=[.!?])[\"')\]*_]*\s+|\n")
_CLAUSES = re.compile(r"[,;:()]|\s[–—-]\s")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.split(text) if s and s.strip()]


def _asks_for_secret_en(sentence: str, trusted: tuple[str, ...]) -> bool:
    for m in _REQ_EN.finditer(sentence):
        start = m.start("verb") if m.group("verb") else m.start("rverb")
        before = re.sub(r"[*_`\[\]]+", " ", sentence[:start])
        before = re.sub(r"^\s*(?:\d{1,3}[.)]|[-+>])\s+", "", before)
        if not _LEAD_EN.search(before):
            continue
        window = " ".join(before.split()[-6:])
        if _NEG_EN.search(window):
            continue
        if _ASKED_TO.search(before) and (_WARNING_EN.search(before) or _NEG_EN.search(before)):
            continue
        verb = m.group("verb")
        if verb and _WEAK_RE.match(" ".join(verb.split())):
            if not (_DEST_EN.search(sentence[m.start():]) or _EMAIL.search(sentence) or _outside_hosts(sentence, trusted)):
                continue
        return True
    return False


def _asks_for_secret_other(sentence: str) -> bool:
    for clause in _CLAUSES.split(sentence):
        for anywhere, needs_lead, lead, secret, negation in _OTHER:
            if not secret.search(clause):
                continue
            if not (anywhere.search(clause) or (needs_lead.search(clause) and (lead.search(clause) or _starts_with(needs_lead, clause)))):
                continue
            if negation.search(clause):
                continue
            return True
    return False


def _starts_with(verbs: re.Pattern, clause: str) -> bool:
    m = verbs.search(clause)
    return m is not None and not re.sub(r"[*_`¡¿\s-]+|^\d{1,3}[.)]", "", clause[: m.start()])


def _outside_hosts(sentence: str, trusted: tuple[str, ...]) -> list[str]:
    hosts = [m.group(1) for m in _URL.finditer(sentence)] + [m.group(1) for m in _BARE.finditer(sentence)]
    out = []
    for h in hosts:
        h = h.strip(".").lower()
        if "." not in h and not h.startswith("["):
            continue
        if not is_trusted(h, trusted) and h not in out:
            out.append(h)
    return out


def unsafe_reasons(text: str, trusted: Iterable[str] | None = None) -> list[str]:
    """Why ``text`` must not be given as advice; ``[]`` for ordinary text.

    ``trusted``: domains (with their subdomains) the reader may be sent to, the whole list (build it
    with :func:`trusted_domains` to add to the defaults); default ``trusted_domains()``, the defaults
    alone. Rules in the module docstring.
    """
    trusted_ = tuple(t.lower() for t in trusted) if trusted is not None else trusted_domains()
    reasons: list[str] = []
    outside: list[str] = []
    prose = _prose(text)
    secret = False
    for sentence in _sentences(text):  # a request inside a code block is still a request
        if not secret and _ANY_SECRET.search(sentence) and (_asks_for_secret_en(sentence, trusted_) or _asks_for_secret_other(sentence)):
            secret = True
    for sentence in _sentences(prose):
        for m in _EMAIL.finditer(sentence):
            d = m.group(1).lower()
            if not is_trusted(d, trusted_) and d not in outside:
                outside.append(d)
        hosts = _outside_hosts(sentence, trusted_)
        words = _BARE.sub(" ", _URL.sub(" ", _EMAIL.sub(" ", sentence)))  # "login.example.net" is no "log in"
        if hosts and (_DIRECTIVE.search(words) or _ANY_SECRET.search(words)):
            outside.extend(h for h in hosts if h not in outside)
    if secret:
        reasons.append(SEND_SECRET)
    if outside:
        reasons.append(f"{OUTSIDE} ({', '.join(outside[:3])})")
    return reasons


def unsafe_blocks(text: str, trusted: Iterable[str] | None = None) -> tuple[str, list[str]]:
    """``text`` without its unsafe blocks (paragraphs, lists, tables, code blocks), and the blocks removed.

    The unit withheld is the block, not the sentence: the words around a hostile instruction in the
    same paragraph ("our verification desk replies within an hour") are part of it.
    """
    kept, removed = [], []
    for block in _blocks(text):
        (removed if block.strip() and unsafe_reasons(block, trusted) else kept).append(block)
    return "\n\n".join(b for b in kept if b.strip()), removed


def _blocks(text: str) -> list[str]:
    """Paragraphs, lists and tables split at blank lines; a fenced code block stays whole."""
    blocks, current, in_code = [], [], False
    for line in text.split("\n"):
        if _FENCE_LINE.match(line):
            in_code = not in_code
        if not in_code and not line.strip():
            if current:
                blocks.append("\n".join(current))
            current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks
