"""Redaction measured on the labelled set (eval/redaction/cases.jsonl), the kinds an attack found in
clear, look-alikes that must survive, and 200 KB adversarial inputs. No model is loaded."""

import json

import pytest

from nectarine.handoff.redact import redact
from support.paths import REPO

CASES = REPO / "eval" / "redaction" / "cases.jsonl"


def _cases():
    return [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_labelled_set_meets_the_targets():
    cases = _cases()
    assert len(cases) >= 300 and sum(c["category"] == "lookalike" for c in cases) >= 100
    hits = {"secret": [0, 0], "personal": [0, 0], "lookalike": [0, 0]}
    misses = []
    for c in cases:
        out = redact(c["text"], personal=True).text
        ok = out == c["text"] if c["category"] == "lookalike" else c["secret"] not in out
        hits[c["category"]][0] += ok
        hits[c["category"]][1] += 1
        if not ok:
            misses.append(c["id"])
    recall_secret = hits["secret"][0] / hits["secret"][1]
    recall_personal = hits["personal"][0] / hits["personal"][1]
    fp_rate = 1 - hits["lookalike"][0] / hits["lookalike"][1]
    assert recall_secret >= 0.98, misses
    assert recall_personal >= 0.95, misses
    assert fp_rate <= 0.02, misses


PREVIOUSLY_MISSED = [
    ("card-number", "2026-11-20 09:14:05 ERROR billing charge failed card=4111 1111 1111 1111 exp=12/28", "4111 1111 1111 1111"),
    ("card-number", "Please charge my Amex 3782-822463-10005 instead.", "3782-822463-10005"),
    ("card-number", "payment_method number 5555555555554444 declined", "5555555555554444"),
    ("card-number", "Discover 6011 1111 1111 1117 expired", "6011 1111 1111 1117"),
    ("iban", "Bitte überweisen Sie auf DE89 3704 0044 0532 0130 00, danke.", "DE89 3704 0044 0532 0130 00"),
    ("iban", "iban=GB82WEST12345698765432 status=active", "GB82WEST12345698765432"),
    ("email", "2026-11-20 09:14:04 ERROR auth  AUTH-1003 user=ana.mueller@example.com", "ana.mueller@example.com"),
    ("phone", "call me on +49 30 1234567 after lunch", "+49 30 1234567"),
    ("phone", "You can reach me at (415) 555-0132 after 3pm.", "(415) 555-0132"),
    ("phone", "Ring our office on +44 20 7946 0958.", "+44 20 7946 0958"),
    ("api-key", "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("private-key", "key:\n-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0123456789abcdefABCDEF0123456789abcdef\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\nok",
     "lQOYBF0123456789abcdefABCDEF0123456789abcdef"),
    ("basic-auth", "> GET /scim/v2/Users HTTP/1.1\n> Authorization: Basic YWRtaW46czNjcjN0UGFzcw==", "YWRtaW46czNjcjN0UGFzcw=="),
    ("api-key", "GET https://maps.googleapis.com/maps/api/geocode/json?key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW 403",
     "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"),
    ("password", "my password is hunter2 if you need it", "hunter2"),
    ("password", "mein Passwort ist Sommer2026! – bitte nicht weitergeben", "Sommer2026!"),
    ("password", "le mot de passe est azerty2026, merci", "azerty2026"),
    ("password", "user: ana pw: Tr0ub4dor&3", "Tr0ub4dor&3"),
]


@pytest.mark.parametrize("kind,text,secret", PREVIOUSLY_MISSED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PREVIOUSLY_MISSED)])
def test_previously_missed_kinds_are_redacted(kind, text, secret):
    r = redact(text)  # personal data is on by default
    assert secret not in r.text and r.counts.get(kind, 0) >= 1, (r.text, r.counts)


@pytest.mark.parametrize("text", [
    "2026-11-20 09:14:04 ERROR auth  AUTH-1003 SSO assertion could not be validated.",
    "OS: Windows 10.0.19045.3803, Nectain 4.6.1, request_id=3f2b9c1e-8d4a-4f6b-9a7e-1c2d3e4f5a6b",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 for ORD-2026-004512 and INC0012345",
    "trace_id=4111111111111112 from 192.168.10.24:8080 took 1234567 ms",
    "You can reset your password in Settings > Security.",
    "Mein Passwort ist abgelaufen und ich kann es nicht ändern.",
    "HTTP/1.1 503 Service Unavailable; uploaded report.xlsx (12,345,678 bytes)",
])
def test_look_alikes_survive(text):
    assert redact(text).text == text


def test_personal_data_can_be_left_in_when_asked():
    text = "write to ana@example.com or call +49 30 1234567; password: hunter2"
    r = redact(text, personal=False)
    assert "ana@example.com" in r.text and "+49 30 1234567" in r.text and "hunter2" not in r.text


def test_redaction_is_idempotent_on_the_set():
    for c in _cases()[::7]:
        once = redact(c["text"])
        twice = redact(once.text)
        assert twice.text == once.text and twice.counts == {}, c["id"]


N = 200_000


@pytest.mark.parametrize("text,expect", [
    ("a" * N, None), ("1" * N, None), ("@" * N, None), (("-----BEGIN " * N)[:N], None), (("eyJ" * N)[:N], None),
    (("a@" * N)[:N], None), (("1234567 " * N)[:N], None), ((" " * N), None), (("://" * N)[:N], None),
    (("password: x " * N)[:N], "password"), (("+49 30 1234567 " * N)[:N], "phone"),
    (("-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 64 + "\n") * 100 + "tail", "private-key"),
], ids=["a", "digits", "at", "begin", "eyJ", "a-at", "7digits", "spaces", "scheme", "password", "phones", "keys"])
def test_adversarial_200kb_inputs_return_correctly(text, expect):
    r = redact(text)
    if expect is None:
        assert r.text == text and r.counts == {}
    else:
        assert r.counts.get(expect, 0) > 0 and "[REDACTED:" in r.text
        if expect == "phone":
            assert "1234567" not in r.text
        if expect == "private-key":
            assert "A" * 64 not in r.text and r.text.endswith("tail")
