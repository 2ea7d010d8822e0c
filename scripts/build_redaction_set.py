"""Build eval/redaction/cases.jsonl: labelled secrets, personal data and look-alikes in realistic context.

Deterministic (fixed seed): ``.venv/bin/python scripts/build_redaction_set.py [--out eval/redaction/cases.jsonl]``.
Every value is synthetic: keys and tokens are random strings in each vendor's format, card numbers
and IBANs are generated to pass (or, for look-alikes, to fail) their checksums, and phone numbers use
fictional ranges (US 555-01xx, UK 020 7946 0xxx) or random subscriber digits in real area codes.

Each line: {"id", "text", "kind", "secret", "category"}; ``secret`` is the exact substring that must
disappear from the redacted text (null for look-alikes, which must come out unchanged).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
from pathlib import Path

SEED = 2026
ALNUM = string.ascii_letters + string.digits
UPPER_NUM = string.ascii_uppercase + string.digits
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"

rng = random.Random(SEED)


def r(alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def pick(seq):
    return rng.choice(seq)


def ts() -> str:
    return f"2026-{rng.randint(1, 12):02}-{rng.randint(1, 28):02} {rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}"


def iso() -> str:
    return ts().replace(" ", "T") + f".{rng.randint(0, 999):03}Z"


# ---------------------------------------------------------------- checksums

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(prefix: str, length: int) -> str:
    body = prefix + r(string.digits, length - len(prefix) - 1)
    for check in string.digits:
        if luhn_ok(body + check):
            return body + check
    raise AssertionError


def luhn_fail(prefix: str, length: int) -> str:
    good = luhn_complete(prefix, length)
    return good[:-1] + str((int(good[-1]) + rng.randint(1, 9)) % 10)


def iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    num = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - num % 97:02}{bban}"


IBAN_BBAN = {  # country: BBAN generator (lengths as in the SWIFT registry)
    "DE": lambda: r(string.digits, 18),
    "FR": lambda: r(string.digits, 10) + r(UPPER_NUM, 11) + r(string.digits, 2),
    "ES": lambda: r(string.digits, 20),
    "GB": lambda: pick(["NWBK", "BARC", "LOYD", "MIDL"]) + r(string.digits, 14),
    "NL": lambda: pick(["ABNA", "INGB", "RABO"]) + r(string.digits, 10),
    "IT": lambda: r(string.ascii_uppercase, 1) + r(string.digits, 10) + r(UPPER_NUM, 12),
    "CH": lambda: r(string.digits, 5) + r(UPPER_NUM, 12),
    "AT": lambda: r(string.digits, 16),
    "BE": lambda: r(string.digits, 12),
}


def spaced(s: str, n: int = 4) -> str:
    return " ".join(s[i:i + n] for i in range(0, len(s), n))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- secrets

def aws_key_id():
    key = pick(["AKIA", "ASIA"]) + r(string.ascii_uppercase + "234567", 16)
    t = pick([
        f"{ts()} INFO  s3 uploader using access key {key} for bucket nectain-exports",
        f"[default]\naws_access_key_id = {key}\nregion = eu-central-1",
        f"export AWS_ACCESS_KEY_ID={key}",
        f"Hi, our S3 sync fails with AccessDenied. Key id is {key}, can you check?",
        f"Hallo, der Export nach S3 schlägt fehl. Access Key: {key}",
        f'{{"AccessKeyId": "{key}", "Status": "Active"}}',
    ])
    return t, key


def aws_secret():
    s = r(ALNUM + "+/", 40)
    t = pick([
        f"[default]\naws_access_key_id = AKIA{r(string.ascii_uppercase, 16)}\naws_secret_access_key = {s}",
        f"export AWS_SECRET_ACCESS_KEY={s}",
        f"{ts()} DEBUG boto config aws_secret_access_key={s} region=eu-west-1",
        f'{{"AccessKeyId": "AKIA{r(string.ascii_uppercase, 16)}", "SecretAccessKey": "{s}"}}',
        f"AWS_SECRET_ACCESS_KEY: {s}",
        f"le connecteur S3 utilise aws_secret_access_key = {s}, est-ce normal ?",
    ])
    return t, s


def gcp_api_key():
    k = "AIza" + r(ALNUM + "-_", 35)
    t = pick([
        f"GET https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key={k} 403",
        f"{ts()} WARN  maps  request denied for key {k}",
        f"GOOGLE_API_KEY={k}",
        f'  "apiKey": "{k}",',
        f"Our maps widget stopped working, the key we use is {k}",
        f"Der Kartendienst meldet REQUEST_DENIED mit dem Schlüssel {k}",
    ])
    return t, k


def pem_body(lines: int, first: str = "MII") -> list[str]:
    out = [first + r(B64, 64 - len(first))] + [r(B64, 64) for _ in range(lines - 1)]
    out.append(r(B64, rng.randint(8, 60)) + pick(["", "=", "=="]))
    return out


def gcp_service_account():
    body = pem_body(6, "MIIEv")
    secret = "\\n".join(body)
    t = ('{\n  "type": "service_account",\n  "project_id": "nectain-prod-4711",\n'
         f'  "private_key_id": "{r(HEX, 40)}",\n'
         f'  "private_key": "-----BEGIN PRIVATE KEY-----\\n{secret}\\n-----END PRIVATE KEY-----\\n",\n'
         '  "client_email": "exporter@nectain-prod-4711.iam.gserviceaccount.com"\n}')
    return t, secret


def azure_conn():
    key = r(B64, 86) + "=="
    name = pick(["nectainprod", "exportsstore", "nectainbackup"])
    conn = f"DefaultEndpointsProtocol=https;AccountName={name};AccountKey={key};EndpointSuffix=core.windows.net"
    t = pick([
        f"AZURE_STORAGE_CONNECTION_STRING=\"{conn}\"",
        f"{ts()} ERROR blob  upload failed, connection: {conn}",
        f"Hola, la copia de seguridad a Azure falla. Cadena de conexión: {conn}",
        f'"StorageConnection": "{conn}"',
    ])
    return t, key


def slack():
    kind = rng.random()
    if kind < 0.7:
        tok = f"xox{pick('bpa')}-{rng.randint(10**10, 10**12)}-{rng.randint(10**10, 10**12)}-{r(ALNUM, 24)}"
    else:
        tok = f"https://hooks.slack.com/services/T{r(UPPER_NUM, 8)}/B{r(UPPER_NUM, 10)}/{r(ALNUM, 24)}"
    t = pick([
        f"SLACK_BOT_TOKEN={tok}",
        f"{ts()} INFO  notify posting to slack with {tok}",
        f"the Slack integration is configured with {tok} but nothing arrives",
        f"webhook_url: {tok}",
    ])
    return t, tok


def stripe():
    tok = pick(["sk_live_", "rk_live_", "sk_test_"]) + r(ALNUM, pick([24, 34, 99]))
    t = pick([
        f"STRIPE_SECRET_KEY={tok}",
        f"{ts()} ERROR billing stripe.error.AuthenticationError: Invalid API Key provided: {tok}",
        f"payments: {{ provider: stripe, key: {tok} }}",
        f"Wir haben den Stripe-Schlüssel {tok} hinterlegt, trotzdem schlägt die Zahlung fehl.",
    ])
    return t, tok


def github():
    tok = pick([f"ghp_{r(ALNUM, 36)}", f"gho_{r(ALNUM, 36)}", f"github_pat_{r(ALNUM, 22)}_{r(ALNUM, 59)}"])
    t = pick([
        f"git clone https://{tok}@github.com/nectain/connectors.git",
        f"GITHUB_TOKEN={tok}",
        f"{ts()} WARN  sync  GitHub API 401 for token {tok}",
        f"I used the token {tok} for the GitHub connector, is that the right scope?",
    ])
    return t, tok


def generic_api_key():
    s = r(ALNUM, rng.randint(20, 40))
    t = pick([
        f"{ts()} INFO  http  POST /api/v2/import api_key={s} status=401",
        f"curl -H 'X-Api-Key: {s}' https://acme.nectain.cloud/api/v2/forms",
        f'{{"integration": "hubspot", "api_key": "{s}"}}',
        f"token={s}",
        f"nectain.connector.apiKey = {s}",
        f"GET /export?format=csv&access_token={s} HTTP/1.1",
        f"client_secret: {s}",
        f"Mon jeton API est le suivant : token: {s}",
        f"SENDGRID_API_KEY={s}",
        f"app.secret_key = '{s}'",
    ])
    return t, s


def jwt():
    header = {"alg": pick(["HS256", "RS256", "ES256"]), "typ": "JWT"}
    payload = {"sub": str(rng.randint(1000, 99999)), "name": pick(["Ana", "Jon", "Mia"]), "iat": rng.randint(1_700_000_000, 1_800_000_000)}
    tok = ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(rng.randbytes(32))])
    t = pick([
        f"{ts()} DEBUG auth  id_token {tok}",
        f"Set-Cookie-less session, the SPA stores jwt={tok}",
        f"Der Login liefert dieses Token: {tok} – ist das abgelaufen?",
        f"ws://acme.nectain.cloud/live?jwt={tok}",
        f"token in localStorage: \"{tok}\"",
    ])
    return t, tok


def bearer():
    tok = pick([r(ALNUM, 32), r(ALNUM + "-._~", 40), "nct_" + r(ALNUM, 28), r(HEX, 40)])
    t = pick([
        f"curl -H \"Authorization: Bearer {tok}\" https://acme.nectain.cloud/api/v2/me",
        f"{ts()} INFO  http  Authorization: Bearer {tok}",
        f"> GET /api/v2/reports HTTP/1.1\n> Host: acme.nectain.cloud\n> Authorization: Bearer {tok}",
        f"headers = {{'Authorization': 'Bearer {tok}'}}",
        f"J'envoie bien l'en-tête Authorization: Bearer {tok} mais j'obtiens 401",
    ])
    return t, tok


def basic_auth():
    user = pick(["admin", "svc-export", "ana.mueller", "api"])
    pw = r(ALNUM + "!#%", rng.randint(8, 16))
    tok = base64.b64encode(f"{user}:{pw}".encode()).decode()
    t = pick([
        f"{ts()} DEBUG http  > Authorization: Basic {tok}",
        f"curl -H 'Authorization: Basic {tok}' https://acme.nectain.cloud/scim/v2/Users",
        f"proxy_set_header Authorization \"Basic {tok}\";",
        f"Request headers: {{'Authorization': 'Basic {tok}', 'Accept': 'application/json'}}",
        f"Auf dem Proxy steht authorization: basic {tok}",
    ])
    return t, tok


PEM_KINDS = ["RSA PRIVATE KEY", "EC PRIVATE KEY", "DSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PRIVATE KEY", "PGP PRIVATE KEY BLOCK"]


def private_key(kind: str):
    if kind == "PGP PRIVATE KEY BLOCK":
        body = pem_body(8, "lQOYBF")
        inner = "Version: GnuPG v2\n\n" + "\n".join(body) + "\n=" + r(B64, 4)
        secret = "\n".join(body)
    elif kind == "OPENSSH PRIVATE KEY":
        body = ["b3BlbnNzaC1rZXktdjEAAAAA" + r(B64, 46)] + [r(B64, 70) for _ in range(4)] + [r(B64, 20)]
        inner = secret = "\n".join(body)
    elif kind == "RSA PRIVATE KEY" and rng.random() < 0.5:
        body = pem_body(6, "MIIE")
        inner = f"Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{r(HEX, 32).upper()}\n\n" + "\n".join(body)
        secret = "\n".join(body)
    else:
        body = pem_body(rng.randint(3, 8))
        inner = secret = "\n".join(body)
    block = f"-----BEGIN {kind}-----\n{inner}\n-----END {kind}-----"
    t = pick([
        f"{ts()} ERROR tls   could not load key from /etc/nectain/tls.key:\n{block}\n{ts()} INFO  tls   falling back to self-signed",
        f"Here is the key file the SFTP connector uses:\n\n{block}\n\nthanks",
        f"Voici la clé utilisée par le connecteur :\n{block}",
        f"ssh_private_key: |\n  " + block.replace("\n", "\n  "),
    ])
    if t.startswith("ssh_private_key"):
        secret = secret.replace("\n", "\n  ")
    return t, secret


def connection_string():
    pw = r(ALNUM + "!$%^*", rng.randint(8, 18))
    user = pick(["nectain", "app", "postgres", "admin", "reporting"])
    url = pick([
        f"postgresql://{user}:{pw}@db.internal:5432/nectain",
        f"mysql://{user}:{pw}@10.0.3.12:3306/crm",
        f"mongodb+srv://{user}:{pw}@cluster0.ab1cd.mongodb.net/prod?retryWrites=true",
        f"redis://:{pw}@cache.internal:6379/0",
        f"amqp://{user}:{pw}@rabbit.internal:5672/%2f",
        f"sqlserver://{user}:{pw}@sql01.corp.local:1433",
    ])
    t = pick([
        f"DATABASE_URL={url}",
        f"{ts()} ERROR db    could not connect to {url}: timeout",
        f"sqlalchemy.url = {url}",
        f"Die Verbindung {url} bricht nach 30 Sekunden ab.",
        f"  File \"/srv/app/db.py\", line 42, in connect\n    engine = create_engine(\"{url}\")\nOperationalError: could not connect",
    ])
    return t, pw


def card():
    brand = pick(["visa", "mc", "mc2", "amex", "discover"])
    if brand == "visa":
        num = luhn_complete("4", 16)
    elif brand == "mc":
        num = luhn_complete(str(rng.randint(51, 55)), 16)
    elif brand == "mc2":
        num = luhn_complete(str(rng.randint(2221, 2720)), 16)
    elif brand == "amex":
        num = luhn_complete(pick(["34", "37"]), 15)
    else:
        num = luhn_complete(pick(["6011", "65"]), 16)
    style = pick(["plain", "spaced", "dashed"])
    if style != "plain":
        sep = " " if style == "spaced" else "-"
        groups = [num[:4], num[4:10], num[10:]] if len(num) == 15 else [num[i:i + 4] for i in range(0, 16, 4)]
        num = sep.join(groups)
    t = pick([
        f"{ts()} ERROR billing charge failed card={num} exp=12/28 code=card_declined",
        f"Please update our billing card to {num}, expiry 09/27.",
        f"Bitte buchen Sie ab jetzt von der Karte {num} ab (gültig bis 03/29).",
        f"Ma carte {num} a été refusée lors du renouvellement.",
        f"Mi tarjeta {num} fue rechazada, ¿pueden revisarlo?",
        f'{{"payment_method": {{"type": "card", "number": "{num}", "cvc": "***"}}}}',
        f"card number: {num}",
    ])
    return t, num


def iban_case():
    country = pick(list(IBAN_BBAN))
    value = iban(country, IBAN_BBAN[country]())
    if rng.random() < 0.6:
        value = spaced(value)
    t = pick([
        f"Please refund the invoice to IBAN {value}.",
        f"Unsere neue Bankverbindung: IBAN {value}, BIC COBADEFFXXX",
        f"Merci de rembourser sur le compte {value} au nom de la société.",
        f"Por favor, cambien la cuenta de domiciliación a {value}",
        f"{ts()} INFO  sepa  mandate created iban={value.replace(' ', '')} status=active",
        f"iban: \"{value}\"",
    ])
    if "iban=" in t:
        value = value.replace(" ", "")
    return t, value


def password_prose():
    pw = pick(["hunter2", "Sommer2026!", "Tr0ub4dor&3", "P@ssw0rd123", "nectain#42", "correcthorse", "Zz9-kLmQ", "Welcome1!", "azerty2026", "Madrid_2025"])
    pw = pw if rng.random() < 0.4 else pw + str(rng.randint(1, 99))
    t = pick([
        f"my password is {pw} if you need to log in and check",
        f"You can use the test account, the password is {pw}",
        f"user: ana.mueller pw: {pw}",
        f"mein Passwort ist {pw}, bitte schauen Sie selbst nach",
        f"Das Passwort für den Admin lautet {pw}.",
        f"Kennwort: {pw}",
        f"le mot de passe est {pw}, vous pouvez vous connecter",
        f"Mon mot de passe : {pw}",
        f"mi contraseña es {pw} por si necesitan entrar",
        f"La contraseña del usuario de prueba es {pw}",
        f"login admin / password: {pw}",
        f"the admin password was {pw} before the reset",
    ])
    return t, pw


def password_config():
    pw = r(ALNUM + "!#$%&*", rng.randint(8, 20))
    t = pick([
        f"DB_PASSWORD={pw}",
        f"spring.datasource.password={pw}",
        f"  password: {pw}\n  username: nectain",
        f'{{"username": "svc-export", "password": "{pw}"}}',
        f"Server=sql01;Database=crm;User Id=app;Password={pw};",
        f"smtp_pass = {pw}",
        f"<password>{pw}</password>",
        f"{ts()} DEBUG cfg   loaded ldap bind_password={pw}",
        f"MYSQL_ROOT_PASSWORD: \"{pw}\"",
        f"PGPASSWORD={pw} psql -h db.internal -U nectain",
    ])
    return t, pw


# ---------------------------------------------------------------- personal data

FIRST = ["ana", "jon", "mia", "lukas", "chloe", "javier", "sofia", "liam", "emma", "noah", "lea", "mateo"]
LAST = ["mueller", "smith", "dubois", "garcia", "schmidt", "martin", "lopez", "brown", "weber", "bernard"]
DOMAINS = ["example.com", "acme.de", "contoso.fr", "nectain-demo.es", "mail.example.co.uk", "corp.example.org"]


def email():
    local = pick([f"{pick(FIRST)}.{pick(LAST)}", f"{pick(FIRST)}{rng.randint(1, 99)}", f"{pick(FIRST)}+nectain", f"{pick(FIRST)[0]}.{pick(LAST)}"])
    e = f"{local}@{pick(DOMAINS)}"
    t = pick([
        f"{ts()} ERROR auth  AUTH-1003 SSO assertion could not be validated. user={e}",
        f"Please reply to {e}, I am not at my desk.",
        f"Bitte antworten Sie an {e}, danke!",
        f"Vous pouvez me joindre à {e}.",
        f"Pueden escribirme a {e} cuando esté resuelto.",
        f"From: Ana Mueller <{e}>",
        f'{{"user": {{"email": "{e}", "role": "admin"}}}}',
        f"invite sent to mailto:{e}",
        f"  File \"sync.py\", line 88, in push\nValueError: duplicate contact {e}",
    ])
    return t, e


def phone():
    import phonenumbers

    while True:
        style = pick(["de", "de_nat", "us", "us_dash", "uk", "uk_nat", "fr", "fr_nat", "es", "es_nat", "e164_us", "e164_de"])
        if style == "de":
            num, region = f"+49 30 {r(string.digits, 7)}", None
            t = pick([f"call me on {num}", f"Sie erreichen mich unter {num}.", f"{ts()} INFO  sms   sending code to {num}"])
        elif style == "de_nat":
            num, region = pick([f"030 {rng.randint(2, 9)}{r(string.digits, 6)}", f"0171 {rng.randint(2, 9)}{r(string.digits, 6)}", f"089 {rng.randint(2, 9)}{r(string.digits, 6)}"]), "DE"
            t = pick([f"Tel.: {num}", f"Rufen Sie mich bitte unter {num} an.", f"Mobil: {num} (nach 14 Uhr)"])
        elif style == "us":
            num, region = f"({pick(['415', '212', '312', '617'])}) 555-01{r(string.digits, 2)}", "US"
            t = pick([f"You can reach me at {num} after 3pm PT.", f"Phone: {num}", f"call {num} if the outage continues"])
        elif style == "us_dash":
            num, region = f"{pick(['415', '206', '512'])}-555-01{r(string.digits, 2)}", "US"
            t = pick([f"my cell is {num}", f"Contact: Jon Smith, {num}", f"text me at {num}"])
        elif style == "uk":
            num, region = f"+44 20 7946 0{r(string.digits, 3)}", None
            t = pick([f"Ring our office on {num}.", f"{ts()} INFO  sms   sending code to {num}", f"phone={num}"])
        elif style == "uk_nat":
            num, region = f"020 7946 0{r(string.digits, 3)}", "GB"
            t = pick([f"Please call me on {num} (London office).", f"Tel: {num}"])
        elif style == "fr":
            num, region = "+33 " + pick(["1", "6", "7"]) + " " + " ".join(r(string.digits, 2) for _ in range(4)), None
            t = pick([f"Appelez-moi au {num}, merci.", f"Mon numéro : {num}", f"{ts()} INFO  sms   sending code to {num}"])
        elif style == "fr_nat":
            num, region = "0" + pick(["1", "6", "7"]) + " " + " ".join(r(string.digits, 2) for _ in range(4)), "FR"
            t = pick([f"Vous pouvez m'appeler au {num}.", f"Téléphone : {num}"])
        elif style == "es":
            num, region = "+34 " + pick(["91", "93", "61", "66"]) + r(string.digits, 1) + " " + r(string.digits, 3) + " " + r(string.digits, 3), None
            t = pick([f"Llámenme al {num}, por favor.", f"Mi móvil es {num}", f"tel. {num}"])
        elif style == "es_nat":
            num, region = pick(["91", "93", "61", "66"]) + r(string.digits, 1) + " " + r(string.digits, 2) + " " + r(string.digits, 2) + " " + r(string.digits, 2), "ES"
            t = pick([f"Mi teléfono: {num}", f"Pueden llamarme al {num} por la tarde."])
        elif style == "e164_us":
            num, region = f"+1{pick(['415', '212', '646'])}55501{r(string.digits, 2)}", None
            t = pick([f"{ts()} INFO  twilio to={num} status=queued", f"mfa_phone: \"{num}\""])
        else:
            num, region = f"+4930{rng.randint(2, 9)}{r(string.digits, 6)}", None
            t = pick([f"{ts()} INFO  sms   to={num} delivered", f"Rückrufnummer {num}"])
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(num, region)):
                return t, num
        except phonenumbers.NumberParseException:
            pass


# ---------------------------------------------------------------- look-alikes (must come out unchanged)

def lookalikes() -> list[str]:
    out = []
    uuid = lambda: f"{r(HEX, 8)}-{r(HEX, 4)}-4{r(HEX, 3)}-{pick('89ab')}{r(HEX, 3)}-{r(HEX, 12)}"
    for _ in range(6):
        out.append(pick([
            f"Nectain {rng.randint(3, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 20)} released; upgrade from {rng.randint(3, 4)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} is automatic.",
            f"OS: Windows 10.0.{rng.randint(19041, 22631)}.{rng.randint(1000, 5000)}, browser Chrome/{rng.randint(120, 131)}.0.{rng.randint(6000, 6999)}.{rng.randint(10, 200)}",
            f"{ts()} INFO  boot  nectain-server version=4.{rng.randint(0, 6)}.{rng.randint(0, 12)} build={rng.randint(20260101, 20261231)}.{rng.randint(1, 9)}",
        ]))
    for _ in range(8):
        out.append(pick([
            f"{ts()} INFO  wf    instance {uuid()} completed in {rng.randint(10, 9999)}ms",
            f"request_id={uuid()} tenant={uuid()}",
            f"Fehler bei Datensatz {uuid()}: Pflichtfeld fehlt",
        ]))
    for _ in range(8):
        out.append(pick([
            f"commit {r(HEX, 40)}\nAuthor: CI Bot\n\n    fix export encoding",
            f"deployed {r(HEX, 7)} to production at {iso()}",
            f"sha256: {r(HEX, 64)}  nectain-4.6.1.tar.gz",
            f"image digest sha256:{r(HEX, 64)}",
            f"Merge branch 'release/4.6' ({r(HEX, 12)})",
        ]))
    for _ in range(10):
        out.append(pick([
            f"Order ORD-2026-{rng.randint(0, 999999):06} was shipped on {rng.randint(1, 28)}.{rng.randint(1, 12)}.2026.",
            f"ticket INC{rng.randint(0, 9999999):07} reopened by the customer",
            f"Ihre Bestellung ORD-2026-{rng.randint(0, 999999):06} ist unterwegs.",
            f"See case CS-{rng.randint(10000, 99999)} and PO {rng.randint(4500000000, 4599999999)}",
            f"Invoice INV-{rng.randint(2024, 2026)}-{rng.randint(1, 99999):05} total 1,{rng.randint(100, 999)}.{rng.randint(10, 99)} EUR",
            f"Nº de pedido ORD-2026-{rng.randint(0, 999999):06}, referencia interna REF/{rng.randint(100, 999)}/{rng.randint(10, 99)}",
        ]))
    for _ in range(8):
        out.append(pick([
            f"{ts()} ERROR auth  AUTH-{rng.randint(1000, 1099)} SSO assertion could not be validated.",
            f"{ts()} ERROR rep   REP-{rng.randint(5000, 5099)} The report query took longer than 120 seconds and was cancelled.",
            f"Erreur WF-{rng.randint(3000, 3099)} : aucun destinataire n'a pu être déterminé.",
            f"java.lang.IllegalStateException: code E{rng.randint(10000, 99999)}\n\tat com.nectain.wf.Engine.assign(Engine.java:{rng.randint(10, 999)})",
            f"Error 0x{r(HEX.upper(), 8)} while reading the attachment",
        ]))
    for _ in range(10):
        out.append(pick([
            f"{iso()} WARN  sched job nightly-export started",
            f"last login {ts()} UTC, session length 00:{rng.randint(10, 59)}:{rng.randint(10, 59)}",
            f"epoch={rng.randint(1700000000, 1800000000)} ms={rng.randint(1700000000000, 1800000000000)}",
            f"Wartungsfenster am {rng.randint(1, 28):02}.{rng.randint(1, 12):02}.2026 von 22:00 bis 23:30 Uhr",
            f"Le {rng.randint(1, 28)}/{rng.randint(1, 12)}/2026 à 14h30, l'export a échoué.",
            f"Date: Fri, {rng.randint(1, 28)} Nov 2026 {rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)} GMT",
        ]))
    for _ in range(8):
        ip = f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        out.append(pick([
            f"{ts()} WARN  http  blocked {ip} after 20 failed requests",
            f"upstream {ip}:{pick([80, 443, 8080, 5432])} timed out",
            f"client ip 2001:db8:{r(HEX, 4)}:{r(HEX, 4)}::{r(HEX, 3)} rejected",
            f"X-Forwarded-For: {ip}, 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        ]))
    for _ in range(10):
        brand = pick(["4", "51", "37", "6011"])
        n = luhn_fail(brand, 15 if brand == "37" else 16)
        out.append(pick([
            f"trace_id={n} span_id={r(HEX, 16)}",
            f"{ts()} INFO  batch {n} imported {rng.randint(1, 999)} rows",
            f"Sendungsnummer {n}",
            f"reference number: {spaced(n)}",
            f"IBAN-like check: DE{rng.randint(10, 99)} {spaced(r(string.digits, 18))} is not a valid account",
        ]))
    for _ in range(10):
        out.append(pick([
            f"the export took {rng.randint(2, 59)}m{rng.randint(1, 59)}s ({rng.randint(100000, 9999999)} ms)",
            f"listening on 0.0.0.0:{pick([8000, 8443, 9090, 5432, 6379])}",
            f"uploaded report.xlsx ({rng.randint(1, 99)},{rng.randint(100, 999)},{rng.randint(100, 999)} bytes)",
            f"heap used {rng.randint(100, 999)} MB of {rng.randint(1, 16)} GB, gc pause {rng.randint(1, 300)} ms",
            f"Datei ist {rng.randint(1, 999)},{rng.randint(1, 9)} MB groß",
            f"timeout after {rng.randint(1000, 120000)} ms (retry {rng.randint(1, 5)}/5)",
            f"rows: {rng.randint(1000000, 99999999)} processed, {rng.randint(0, 999)} skipped",
        ]))
    for _ in range(8):
        out.append(pick([
            f"HTTP/1.1 {pick(['200 OK', '404 Not Found', '503 Service Unavailable', '401 Unauthorized'])}",
            f"{ts()} INFO  http  GET /api/v2/forms/{rng.randint(1, 9999)} {pick([200, 304, 404])} {rng.randint(1, 999)}ms",
            f"< HTTP/2 403\n< content-type: application/json\n< x-request-id: req_{r(HEX, 8)}",
            f"POST /api/v2/tickets HTTP/1.1\" {pick([201, 422])} {rng.randint(100, 9999)}",
        ]))
    for _ in range(8):
        out.append(pick([
            f'<img src="logo.png" integrity="sha256-{base64.b64encode(rng.randbytes(12)).decode()}">',
            f"ETag: \"{r(HEX, 16)}\"",
            f"thumbnail hash {base64.b64encode(rng.randbytes(9)).decode()} cached",
            f"Content-MD5: {base64.b64encode(rng.randbytes(16)).decode()}",
            f"font: url(data:font/woff2;base64,d09GMgABAAAAA{r(B64, 8)}) format('woff2')",
        ]))
    prose = [
        "You can reset your password in Settings > Security.",
        "Forgot your password? Click the link on the sign-in page.",
        "The password policy requires at least 12 characters.",
        "My password is not accepted after the upgrade to 4.6.",
        "The password is incorrect, says the login page, but I just changed it.",
        "Passwort vergessen? Dann klicken Sie auf den Link.",
        "Mein Passwort ist abgelaufen und ich kann es nicht ändern.",
        "Das Passwort muss mindestens 12 Zeichen lang sein.",
        "J'ai oublié mon mot de passe, comment le réinitialiser ?",
        "Le mot de passe est incorrect selon le message d'erreur.",
        "Olvidé mi contraseña y el enlace de restablecimiento no llega.",
        "La contraseña es demasiado corta según el formulario.",
        "Password reset emails are delayed by about 10 minutes.",
        "The admin can enforce password expiry every 90 days.",
        "We use a password manager, so the password is long and random.",
        "Token expiry is configured under Admin > API.",
        "How do I rotate an API key without downtime?",
        "The secret sauce is the workflow engine, honestly.",
        "Bearer authentication is required for /api/v2.",
        "Use Basic authentication only over HTTPS.",
        "Our BEGIN and END markers in the template are ----- separated.",
        "Call the support hotline from the Help menu.",
        "my phone is broken, so I can only use e-mail today",
        "The @mention in comments notifies the user.",
    ]
    out.extend(prose)
    for _ in range(8):
        out.append(pick([
            f"{ts()} INFO  auth  password_reset_requested user_id={rng.randint(1000, 99999)}",
            f"{ts()} INFO  llm   prompt_tokens={rng.randint(10, 4000)} completion_tokens={rng.randint(10, 900)}",
            f"max_tokens: {rng.randint(100, 4096)}",
            f"password_min_length = {rng.randint(8, 16)}",
            f"token_expiry_minutes: {rng.randint(5, 120)}",
            f"ssl: true\nverify_certificate: true\nport: {rng.randint(1024, 9999)}",
            f"Table 3: {rng.randint(100, 999)} rows x {rng.randint(2, 40)} columns",
        ]))
    return out


GENERATORS = [  # kind, category, generator, count
    ("aws-access-key-id", "secret", aws_key_id, 10),
    ("aws-secret-access-key", "secret", aws_secret, 10),
    ("gcp-api-key", "secret", gcp_api_key, 10),
    ("gcp-service-account-key", "secret", gcp_service_account, 5),
    ("azure-storage-key", "secret", azure_conn, 8),
    ("slack-token", "secret", slack, 8),
    ("stripe-key", "secret", stripe, 8),
    ("github-token", "secret", github, 8),
    ("generic-api-key", "secret", generic_api_key, 14),
    ("jwt", "secret", jwt, 10),
    ("bearer-token", "secret", bearer, 10),
    ("basic-auth", "secret", basic_auth, 10),
    *[(f"private-key:{'pkcs8' if k == 'PRIVATE KEY' else k.split(' PRIVATE')[0].lower().replace(' ', '-')}", "secret", (lambda k=k: private_key(k)), 3) for k in PEM_KINDS],
    ("connection-string-password", "secret", connection_string, 10),
    ("card-number", "secret", card, 20),
    ("iban", "secret", iban_case, 14),
    ("password-prose", "secret", password_prose, 20),
    ("password-config", "secret", password_config, 14),
    ("email", "personal", email, 16),
    ("phone", "personal", phone, 24),
]


def build() -> list[dict]:
    cases = []
    for kind, category, gen, count in GENERATORS:
        for i in range(count):
            text, secret = gen()
            assert secret in text, (kind, text, secret)
            cases.append({"id": f"{kind.replace(':', '-')}-{i + 1:02}", "text": text, "kind": kind, "secret": secret, "category": category})
    for i, text in enumerate(lookalikes()):
        cases.append({"id": f"lookalike-{i + 1:03}", "text": text, "kind": "lookalike", "secret": None, "category": "lookalike"})
    assert len({c["id"] for c in cases}) == len(cases)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "eval" / "redaction" / "cases.jsonl"))
    args = ap.parse_args()
    cases = build()
    with open(args.out, "w", encoding="utf-8") as f:
        for c in cases:
            f.write(json.dumps(c, ensure_ascii=False) + "\n")
    by = {}
    for c in cases:
        by[c["category"]] = by.get(c["category"], 0) + 1
    print(f"{len(cases)} cases -> {args.out}: {by}")


if __name__ == "__main__":
    main()
