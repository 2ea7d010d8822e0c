"""One vocabulary of signals: what a message says about who is affected and what is hit.

Escalation (``answer/policy.py``: messages that go to support whatever the docs say) and ticket
priority (``handoff/priority.py``: the Support Center's four classes) read the same concepts from a
message. Each concept is defined here once, as pattern text over every language either stage
covers, and compiled once; both stages use the same compiled object, so a fix here applies to both
and they cannot contradict each other:

- ``EVERYONE``: the scope is everyone (everyone, all users, the whole company, nobody, …).
- ``SECURITY``: a security incident or unauthorised access.
- ``DATA_LOSS``: data lost, deleted or corrupted.
- ``CANNOT_SIGN_IN``: people cannot sign in (including "nobody can log in").
- ``OUTAGE``: something is down or unreachable; ``TOTAL_OUTAGE`` (one of its branches): the wording
  itself says the whole service is out ("Nectain is down", "complete outage").
- ``HUMAN_REQUEST``: the user asks for a person.

and the combinations escalation needs:

- ``EVERYONE_CANNOT_SIGN_IN``: an everyone-scope followed (within a few words) by a sign-in failure,
  built from the text of ``EVERYONE`` and ``CANNOT_SIGN_IN``, so wherever it matches both of them
  match too.
- ``EVERYONE_GETS_ERROR``: an everyone-scope followed by "gets/sees …" ("everyone gets AUTH-1003").

**Bounded work.** Every pattern is linear in the text it reads: no nested unbounded quantifiers
(word gaps are ``(\\w+\\W+){0,n}?`` over disjoint classes, distances are ``.{0,n}`` with small ``n``).
The callers cap what they pass in (``MAX_ESCALATION_CHARS``, ``MAX_CLASSIFIER_CHARS``).

>>> SECURITY.search("someone logged in as our CFO") is not None
True
>>> sorted(c.name for c in concepts_in("Nobody in the company can log in since 9am"))
['cannot-sign-in', 'everyone', 'everyone-cannot-sign-in']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FLAGS = re.I | re.S


@dataclass(frozen=True, eq=False)
class Concept:
    """A named concept: its pattern text (``text``), compiled once (``regex``), and its parts, if built from others."""

    name: str
    label: str
    text: str
    parts: tuple[Concept, ...] = ()
    regex: re.Pattern = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.text, FLAGS))

    def search(self, text: str) -> re.Match | None:
        return self.regex.search(text)

    def __contains__(self, text: str) -> bool:
        return self.regex.search(text) is not None


def _alt(*branches: str) -> str:
    """One alternation of ``branches``, each keeping its own boundaries."""
    return "(?:" + "|".join(branches) + ")"


# ---------------------------------------------------------------- words shared by several concepts

# The negative scope words: "nobody" is everyone, and "nobody can …" is everyone cannot.
# French "personne" is "nobody" unless it is "a/the/each person".
_NOBODY = r"(?:nobody|no ?one|none of (?:us|our users)|niemand|(?<!\bune )(?<!\bla )(?<!\bchaque )(?<!\bcette )personne|nadie|nessuno|ninguém|nikt)"
# A bare "all" pronoun (alle, todos, tutti) is everyone only when it stands alone: before a verb or a negation, or at the
# end of a clause ("caída para todos", "Alle können sich nicht anmelden"), not before a noun ("alle Aufgaben", "todos del almacén").
_ALONE = (r"(?=\s*(?:[.,;:!?)]|$)|\s+(?:können|kann|haben|sind|bekommen|sehen|nicht|no|non|nie|ne|pueden|puede|tienen|ven|reciben|"
          r"conseguem|podem|possono|hanno|vedono|ricevono|can|are|get|see)\b)")
# Signing in, in every language covered (the object of "cannot …").
_SIGN_IN_VERB = (r"(?:log ?in|sign ?in|access|authenticate|get in|anmelden|einloggen|se connecter|accéder|iniciar sesión|entrar|acceder|accedere|"
                 r"entrare|acessar|fazer login|inloggen|aanmelden|zalogować)")
# "cannot", negations that read left to right (German "… nicht anmelden" puts the negation last, just before the verb).
_CANNOT = (r"(?:can'?n?o?t|cannot|(?:is |are )?unable to|not able to|no longer|impossible to|fail\w* to|nicht(?: mehr)?|"
           r"ne (?:peut|peuvent|peux)(?: (?:pas|plus))?|no (?:puede|pueden|puedo)|non (?:può|possono|riesce|riescono|riesco)(?: (?:ad|a))?|"
           r"não (?:consegue|conseguem|consigo|pode|podem)|(?:kan|kunnen) niet|nie (?:może|mogą|mogę)(?: się)?)")
# "can", after a negative scope word ("nobody can log in").
_CAN = r"(?:can|could|is able to|kann|peut|puede|può|pode|consegue|kan|może)"

# ---------------------------------------------------------------- the concepts

EVERYONE = Concept("everyone", "everyone is affected", _alt(
    r"\b(?:every\s?(?:one|body)|all (?:of )?(?:our |the )?(?:users|staff|employees|people|colleagues|accounts|tenants|services)|"
    r"(?:the )?(?:whole|entire) (?:company|org\w*|workspace|tenant|team)|company[- ]wide|none of us)\b",
    r"\b" + _NOBODY + r"\b",
    r"\b(?:alle[nm]?\b" + _ALONE + r"|alle (?:nutzer|benutzer|mitarbeiter|anwender)|gesamte[nr]? (?:firma|unternehmen))\b",
    r"\b(?:tous les (?:utilisateurs|employés|collaborateurs)|tout le monde|toute l'entreprise)\b",
    r"\b(?:todos\b" + _ALONE + r"|todos los (?:usuarios|empleados)|toda la empresa)\b", r"\b(?:tutti\b" + _ALONE + r"|tutti gli (?:utenti|dipendenti)|tutta l'azienda)\b",
    r"\b(?:todos os (?:usuários|utilizadores|funcionários))\b", r"\b(?:alle gebruikers)\b",
    r"\b(?:wszyscy|wszystkich użytkowników)\b", r"(?:все пользователи|никто|всех пользователей|всі користувачі|ніхто)", r"(?:全員|全ユーザー|誰も)",
))

SECURITY = Concept("security", "a security incident or unauthorised access", _alt(
    r"\b(?:breach\w*|hack(?:ed|ers?|ing)|compromis\w+|unauthori[sz]ed|intrusions?|leaks?|leak(?:ed|ing)|stolen|phishing|ransomware|malware|exfiltrat\w+|"
    r"suspicious (?:login|sign.?in|activity|access)|vulnerab\w+|xss|injection|privilege escalation|exposed (?:data|token|key))\b",
    r"\b(?:logged|signed) in as (?:our|my|the) \w+|\bsomeone (?:else )?(?:logged|signed) in",
    r"\b(?:ex|former)[- ]?employee\b.{0,120}\b(?:log(?:ged)? ?in|signed|export|access|download)",
    r"\bsee (?:other|another) (?:tenant|customer|company)'?s? data",
    r"\b(?:sicherheitsvorfall|sicherheitslücke|unbefugt\w*|datenleck|gehackt)\b",
    r"\b(?:faille|piraté|fuite de données|violation de (?:données|sécurité)|accès non autorisé)\b",
    r"\b(?:brecha|hackeado|acceso no autorizado|fuga de datos)\b", r"\b(?:violazione|accesso non autorizzato|hackerato)\b",
    r"\b(?:invasão|acesso não autorizado|vazamento)\b", r"\b(?:datalek|onbevoegd\w*)\b",
    r"\b(?:wyciek|nieautoryzowan\w+|włamanie)\b", r"(?:взлом|несанкционирован\w+|утечк\w+|злам|несанкціонован)", r"(?:不正アクセス|情報漏洩|乗っ取)",
))

DATA_LOSS = Concept("data-loss", "data loss or corruption", _alt(
    r"\b(?:data loss|(?:data|records?|entries|files?|attachments?|history) (?:is |are |were |was |has been |have been )?"
    r"(?:gone|lost|vanished|disappeared|missing|wiped|deleted|corrupt\w*)|"
    r"(?:lost|deleted|wiped) (?:all |half |most |some )?(?:of )?(?:our |the |my )?(?:data|records)|corrupt\w*|wiped)\b",
    r"\b(?:datenverlust|daten (?:sind )?(?:weg|verloren|gelöscht)|beschädigt)\b", r"\b(?:perte de données|données (?:perdues|supprimées|disparues)|corrompu\w*)\b",
    r"\b(?:pérdida de datos|datos (?:perdidos|borrados|desaparecidos))\b", r"\b(?:perdita di dati|dati (?:persi|cancellati|spariti)|corrott\w*)\b",
    r"\b(?:perda de dados|dados (?:perdidos|apagados|sumiram)|corromp\w*)\b", r"\b(?:gegevensverlies|gegevens (?:kwijt|verdwenen))\b",
    r"\b(?:utrat\w+ danych|dane (?:zniknęły|usunięte)|uszkodzon\w+)\b", r"(?:потер\w+ данных|данные (?:пропали|удалены)|втрат\w+ даних)", r"(?:データ(?:が)?消え|データ損失|破損)",
))

# "cannot … sign in", with up to three words between ("cannot currently log in").
_CANNOT_SIGN_IN_GAP = _CANNOT + r"\W+(?:\w+\W+){0,3}?" + _SIGN_IN_VERB
# "nobody … can … sign in", with up to six and two words between.
_NOBODY_CAN_SIGN_IN = r"\b" + _NOBODY + r"\W+(?:\w+\W+){0,6}?" + _CAN + r"\W+(?:\w+\W+){0,2}?" + _SIGN_IN_VERB

CANNOT_SIGN_IN = Concept("cannot-sign-in", "people cannot sign in", _alt(
    r"\b" + _CANNOT_SIGN_IN_GAP,
    _NOBODY_CAN_SIGN_IN,
    r"\b(?:login|sign.?in|sso|authentication) (?:fail\w*|broken|error|not working|loop\w*)|\bauth-10\d\d\b",
    r"\b(?:anmelden|einloggen|login) (?:nicht|unmöglich|fehlgeschlagen)|kann (?:mich|sich) nicht (?:an|ein)melden|können sich nicht anmelden",
    r"\b(?:se connecter|connexion) (?:impossible|échoue)", r"(?:не (?:может|могут|могу) войти|не (?:може|можуть) увійти)", r"(?:ログインできない)",
))

# The wording itself says the whole service is out: escalation's "outage for everyone".
TOTAL_OUTAGE = Concept("total-outage", "outage for everyone", _alt(
    r"\b(?:(?:nectain|the (?:app|platform|system|site|service)|everything|it) (?:is |'s )?(?:completely )?(?:down|offline|unreachable|not loading)"
    r"(?: for (?:everyone|all|the whole))?|(?:complete|total|full|major) (?:outage|downtime)|outage|down for (?:everyone|all|the whole)|503 for everyone|"
    r"nicht erreichbar|komplett ausgefallen|ausfall|panne (?:générale|totale)|est en panne|caída total|está caíd[oa]|non funziona per nessuno|awaria)",
))

OUTAGE = Concept("outage", "an outage", _alt(
    TOTAL_OUTAGE.text,
    r"\b(?:outage|down(?:time)?|offline|unreachable|not reachable|unavailable|not loading|won'?t load|does ?n[o']t load|503|502|500 error|blank page|site is dead)\b",
    r"\b(?:ausfall|nicht erreichbar|ausgefallen|funktioniert nicht)\b", r"\b(?:panne|indisponible|inaccessible|ne fonctionne plus|hors service)\b",
    r"\b(?:caída|caído|no funciona|inaccesible)\b", r"\b(?:non raggiungibile|non funziona|fuori servizio)\b", r"\b(?:fora do ar|indisponível|não funciona)\b",
    r"\b(?:storing|onbereikbaar|werkt niet)\b", r"\b(?:awaria|nie działa|niedostępn\w+)\b", r"(?:не работает|недоступ\w+|сбой|не працює|недоступн)", r"(?:ダウン|停止|つながらない|アクセスできない)",
), parts=(TOTAL_OUTAGE,))

HUMAN_REQUEST = Concept("human-request", "asks for a person", _alt(
    r"\b(?:(?:talk|speak|chat) (?:to|with) (?:a |an |some)?(?:human|person|agent|someone|somebody|real person|support)|"
    r"(?:get|want|need) (?:me )?(?:a |an )?(?:human|real person|agent|support person)|human (?:support|agent|please)|"
    r"(?:contact|call|escalate to|open a ticket with|get me) (?:your )?support|open a (?:support )?ticket|"
    r"mit einem menschen|einen mitarbeiter|parler à (?:un|une) (?:humain|personne|conseiller)|hablar con (?:una persona|un humano|alguien)|"
    r"parlare con (?:una persona|un operatore)|porozmawiać z (?:człowiekiem|konsultantem))",
))

# ---------------------------------------------------------------- combinations

EVERYONE_CANNOT_SIGN_IN = Concept("everyone-cannot-sign-in", "nobody can log in", _alt(
    EVERYONE.text + r"\W+(?:\w+\W+){0,6}?" + _CANNOT_SIGN_IN_GAP,  # the same "cannot … sign in" branch as CANNOT_SIGN_IN's
    _NOBODY_CAN_SIGN_IN,
), parts=(EVERYONE, CANNOT_SIGN_IN))

# "everyone gets AUTH-1003": a documented error, but company-wide, so the documented fix did not fix it.
EVERYONE_GETS_ERROR = Concept("everyone-gets-error", "an error that affects everyone", _alt(
    EVERYONE.text + r"\W+(?:\w+\W+){0,5}?(?:gets?|see|sees|getting|seeing|hits?|receives?|bekommt|reçoit|recibe|riceve)\W",
), parts=(EVERYONE,))

CONCEPTS: dict[str, Concept] = {c.name: c for c in (
    EVERYONE, SECURITY, DATA_LOSS, CANNOT_SIGN_IN, TOTAL_OUTAGE, OUTAGE, HUMAN_REQUEST, EVERYONE_CANNOT_SIGN_IN, EVERYONE_GETS_ERROR)}


def concepts_in(text: str) -> list[Concept]:
    """The concepts whose pattern matches somewhere in ``text`` (callers cap the text first)."""
    return [c for c in CONCEPTS.values() if c.regex.search(text)]

