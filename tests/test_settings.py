"""Every service setting is documented in the README's table, and bad values say what to write."""

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from nectarine.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_every_setting_is_in_the_readme_table():
    documented = set(re.findall(r"`(NECTARINE_[A-Z_]+)`", README))
    missing = [f"NECTARINE_{name.upper()}" for name in Settings.model_fields if f"NECTARINE_{name.upper()}" not in documented]
    assert not missing, f"add these to the settings table in README.md: {missing}"


@pytest.mark.parametrize("field,value,words", [("rate_limit", "lots", "30/minute"), ("trusted_proxies", ["10.0.0.300"], "10.0.0.0/8"),
                                               ("admin_lockout", "ten", "per 15 minutes")])
def test_bad_values_say_what_to_write(field, value, words):
    with pytest.raises(ValidationError, match=re.escape(words)):
        Settings(**{field: value})


def test_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("NECTARINE_TRUSTED_PROXIES", '["10.0.0.0/8", "192.0.2.1"]')
    monkeypatch.setenv("NECTARINE_RATE_LIMIT_ANY", "5/second")
    s = Settings()
    assert s.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"] and s.rate_limit_any == "5/second"
    assert [str(n) for n in s.proxies()] == ["10.0.0.0/8", "192.0.2.1/32"]
