"""One vocabulary of signals: escalation (answer/policy.py) and priority (handoff/priority.py) cannot contradict each other.

Both read the shared concepts (everyone, security, data loss, cannot sign in, outage) from
``nectarine/signals.py``: the same compiled pattern objects, so a fix there is seen by both. The table
below checks, message by message and in several languages, that what escalation says about a message
is what the priority signals say about it, and that the priority is the one the Support Center page
gives (Highest for a security incident, everyone locked out or a total outage; at least High for data loss).
"""

from __future__ import annotations

import pytest

from nectarine import signals
from nectarine.answer import policy
from nectarine.answer.policy import escalation
from nectarine.handoff import priority
from nectarine.handoff.priority import PriorityClassifier, page_logic, rule

# message, the escalation reason expected (None: no escalation), the priority the page gives (None: not fixed by the page)
TABLE = [
    # a security incident
    ("Someone logged in as our CFO from an IP in another country and exported the customer list.", "security", "Highest"),
    ("Wir wurden gehackt: unbefugter Zugriff auf unsere Kundendaten heute Nacht.", "security", "Highest"),
    ("Un ancien salarié s'est connecté hier : accès non autorisé à notre liste de clients.", "security", "Highest"),
    ("Ayer hubo un acceso no autorizado a la cuenta del administrador.", "security", "Highest"),
    # data loss
    ("Half of our records vanished after yesterday's import.", "data-loss", "High+"),
    ("Nach dem Import am Montag: Datenverlust, die Daten sind weg.", "data-loss", "High+"),
    ("Perte de données : les pièces jointes de mars ont disparu.", "data-loss", "High+"),
    ("Dopo l'aggiornamento i dati persi non sono più recuperabili.", "data-loss", "High+"),
    # everyone cannot sign in (the calm one-liner included)
    ("Nobody in the company can log in since 9am", "login-all", "Highest"),
    ("Hi, just so you know: since this morning nobody in our company can log in. Thanks.", "login-all", "Highest"),
    ("Alle Mitarbeiter können sich seit heute früh nicht mehr anmelden.", "login-all", "Highest"),
    ("Niemand in unserer Firma kann sich anmelden.", "login-all", "Highest"),
    ("Personne dans l'entreprise ne peut se connecter depuis ce matin.", "login-all", "Highest"),
    ("Desde esta mañana nadie de la empresa puede entrar en Nectain.", "login-all", "Highest"),
    ("Nessuno in azienda può accedere da stamattina.", "login-all", "Highest"),
    ("Nikt nie może się zalogować po aktualizacji.", "login-all", "Highest"),
    # an outage for everyone
    ("Nectain is down for everyone, total outage.", "outage", "Highest"),
    ("Nectain ist komplett ausgefallen, alle Nutzer sind betroffen.", "outage", "Highest"),
    ("La plataforma está caída para todos los usuarios.", "outage", "Highest"),
    ("Panne générale : Nectain est inaccessible pour tout le monde.", "outage", "Highest"),
    # anger alone, a cosmetic typo, an ordinary question: no escalation, no shared concept
    ("I AM FURIOUS!!! THIS IS UNACCEPTABLE AND I WANT IT FIXED NOW!!!", None, None),
    ("URGENT!!!!! THE SAVE BUTTON IS 2 PIXELS OFF ON THE EXPENSE FORM. FIX IT NOW!!!", None, "Low"),
    ("There is a typo on the dashboard title.", None, "Low"),
    ("Tippfehler im Benutzermenü: „Einstelungen“ statt „Einstellungen“.", None, "Low"),
    ("Cómo exporto un informe a Excel?", None, None),
]
IDS = [m[:40] for m, _, _ in TABLE]
SHARED_REASONS = ("security", "data-loss", "login-all", "outage")


def escalation_concepts(message: str) -> set[str]:
    """The shared concepts escalation sees in a message (its reason, when it is one of the shared ones)."""
    e = escalation(message)
    return {e.reason} if e and e.reason in SHARED_REASONS else set()


def priority_concepts(s: dict[str, float]) -> set[str]:
    """The same concepts, read from the priority signals."""
    out = set()
    if s["impact_security"]:
        out.add("security")
    if s["impact_data_loss"]:
        out.add("data-loss")
    if s["scope_all"] and s["impact_login"]:
        out.add("login-all")
    if s["scope_all"] and s["impact_outage"]:
        out.add("outage")
    return out


# ---------------------------------------------------------------- one source

def test_both_modules_use_the_same_compiled_patterns():
    rules = {reason: pattern for reason, _label, pattern in policy.RULES}
    assert rules["human-request"] is signals.HUMAN_REQUEST.regex
    assert rules["security"] is signals.SECURITY.regex is priority.SIGNALS["impact_security"]
    assert rules["data-loss"] is signals.DATA_LOSS.regex is priority.SIGNALS["impact_data_loss"]
    assert rules["login-all"] is signals.EVERYONE_CANNOT_SIGN_IN.regex
    assert rules["outage"] is signals.TOTAL_OUTAGE.regex
    assert policy._COMPANY_WIDE_ERROR is signals.EVERYONE_GETS_ERROR.regex
    assert priority.SIGNALS["scope_all"] is signals.EVERYONE.regex
    assert priority.SIGNALS["impact_login"] is signals.CANNOT_SIGN_IN.regex
    assert priority.SIGNALS["impact_outage"] is signals.OUTAGE.regex
    # The priority's other signals stay its own, in the order the model was trained on.
    assert list(priority.SIGNALS)[:8] == ["scope_all", "scope_many", "scope_dept", "scope_few", "impact_outage",
                                          "impact_security", "impact_data_loss", "impact_login"]


def test_combinations_are_built_from_the_concepts_themselves():
    # Escalation's "nobody can log in" is made of the text of EVERYONE and of CANNOT_SIGN_IN, so wherever it
    # matches, the priority's scope_all and impact_login match too; a total outage is one branch of OUTAGE.
    assert signals.EVERYONE_CANNOT_SIGN_IN.parts == (signals.EVERYONE, signals.CANNOT_SIGN_IN)
    assert signals.EVERYONE.text in signals.EVERYONE_CANNOT_SIGN_IN.text
    assert signals.OUTAGE.parts == (signals.TOTAL_OUTAGE,) and signals.TOTAL_OUTAGE.text in signals.OUTAGE.text
    assert signals.EVERYONE_GETS_ERROR.parts == (signals.EVERYONE,) and signals.EVERYONE.text in signals.EVERYONE_GETS_ERROR.text
    assert set(signals.CONCEPTS.values()) >= {signals.EVERYONE, signals.SECURITY, signals.DATA_LOSS, signals.CANNOT_SIGN_IN,
                                              signals.OUTAGE, signals.HUMAN_REQUEST}


def test_the_concepts_are_defined_nowhere_else():
    # A fix made in signals.py is seen by both because neither stage keeps words of its own for these concepts.
    from pathlib import Path

    for module in (policy, priority):
        source = Path(module.__file__).read_text(encoding="utf-8").lower()
        for word in ("unauthori[sz]ed", "ransomware", "datenverlust", "perte de données", "niemand", "nobody|", "se connecter",
                     "komplett ausgefallen", "talk|speak"):
            assert word not in source, (module.__name__, word)


# ---------------------------------------------------------------- they agree, message by message

@pytest.mark.parametrize(("message", "reason", "page"), TABLE, ids=IDS)
def test_escalation_and_priority_signals_agree(message, reason, page):
    e = escalation(message)
    assert (e.reason if e else None) == reason
    s = priority.signals(message)
    # Escalation => the priority sees the same concept; and, for the shared concepts, the other way round.
    assert escalation_concepts(message) == priority_concepts(s)
    if reason == "security":
        assert rule(s) == ("Highest", "a security incident is Highest")
    elif reason in ("login-all", "outage"):
        assert rule(s)[0] == "Highest"
    elif reason == "data-loss":
        assert page_logic(s) in ("Highest", "High")
    else:
        assert not priority_concepts(s) and not s["impact_security"] and not s["impact_data_loss"]
        assert rule(s) in (None, ("Low", "a cosmetic issue, enhancement or documentation request with nothing broken is Low"))
    if page == "Low":
        assert rule(s)[0] == "Low"


@pytest.mark.parametrize("message", [m for m, r, _ in TABLE if r in SHARED_REASONS], ids=[i for i, (_, r, _) in zip(IDS, TABLE) if r in SHARED_REASONS])
def test_every_escalation_implies_the_priority_signal(message):
    """Structurally: escalation's match is a match of the concept the priority reads."""
    reason = escalation(message).reason
    s = priority.signals(message)
    wanted = {"security": ["impact_security"], "data-loss": ["impact_data_loss"], "login-all": ["scope_all", "impact_login"],
              "outage": ["impact_outage"]}[reason]
    assert all(s[k] for k in wanted), (reason, {k: s[k] for k in wanted})


def test_anger_alone_is_no_concept_for_either():
    for message in ("WE'RE LOSING DATA!!! FIX THIS NOW!!!", "THIS IS A DISASTER!!! EVERYONE IS FURIOUS!!!"):
        s = priority.signals(message)
        assert escalation(message) is None
        assert not (s["impact_security"] or s["impact_data_loss"] or s["impact_login"] or s["impact_outage"])


def test_bare_all_is_everyone_only_when_it_stands_alone():
    assert signals.EVERYONE.search("Alle können sich nicht anmelden")
    assert signals.EVERYONE.search("La plataforma está caída para todos.")
    assert not signals.EVERYONE.search("Wenn ich zurückgehe, sehe ich wieder alle Aufgaben")
    assert not signals.EVERYONE.search("unos 6, todos del almacén de Zaragoza")
    assert not signals.EVERYONE.search("Une personne de l'équipe a un souci")
    # And a positive "can" is no failure to sign in, in any language.
    for ok in ("Todos pueden acceder sin problema", "Wszyscy mogą się zalogować", "Alle können sich anmelden"):
        assert escalation(ok) is None and not priority.signals(ok)["impact_login"], ok


# ---------------------------------------------------------------- the classifier gives what the page gives

@pytest.fixture(scope="module")
def classifier():
    return PriorityClassifier.load()


def test_the_classifier_gives_the_pages_priority(classifier):
    rows = [(m, page) for m, _r, page in TABLE if page]
    verdicts = classifier.classify_many([m for m, _ in rows])
    for (message, page), verdict in zip(rows, verdicts):
        allowed = {"Highest", "High"} if page == "High+" else {page}
        assert verdict.priority in allowed, (message, verdict.rationale)
