import re

import pytest

from nectarine.versions import Version, VersionError, VersionSpec, find_version


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        ("all", "4.1", True),
        (">=4.2", "4.1.9", False),
        (">=4.2", "4.2.0", True),
        (">=4.2", "4.3", True),
        ("<=4.3", "4.3.2", True),
        ("<=4.3", "4.4.0", False),
        ("4.1-4.3", "4.3.9", True),
        ("4.1-4.3", "4.0.1", False),
        ("4.3.1", "4.3.1", True),
        ("4.3.1", "4.3.0", False),
        ("4.3.1", "4.3", True),  # a user on "4.3" may be on 4.3.1
        ("4.3-4.3", "4.3.2", True),
        (">=4.2, <=4.4", "4.5", False),
    ],
)
def test_spec_matches(spec, version, expected):
    assert VersionSpec.parse(spec).matches(version) is expected


@pytest.mark.parametrize("bad,says", [("four", "use 'all', '>=4.2'"), (">=x", "use 'all', '>=4.2'"), ("4.5-4.1", "is empty"),
                                      ("4..2", "use 'all', '>=4.2'")])
def test_bad_specs_say_what_is_allowed(bad, says):
    with pytest.raises(VersionError, match=re.escape(says)):
        VersionSpec.parse(bad)


def test_version_order_and_text():
    assert Version.parse("4.3.1").floor == (4, 3, 1)
    assert Version.parse("4.3").ceiling == (4, 4, 0)
    assert str(Version.parse("v4.2")) == "4.2"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("I'm on 4.1, can I use OIDC?", "4.1"),
        ("we upgraded to Nectain 4.3.0 yesterday", "4.3.0"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/141.0.0.0", None),
        ("the file is 1.5 GB", None),
        ("no version here", None),
    ],
)
def test_find_version_in_text(text, found):
    assert find_version(text) == found
