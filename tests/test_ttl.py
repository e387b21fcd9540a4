"""One TTL rule: the same bounds and words in the server, the client, the stores and the CLI."""

from __future__ import annotations

import pytest

from scout_jupyter.errors import InvalidTTL
from scout_jupyter.server.service import parse_ttl
from scout_jupyter.storage.base import Storage
from scout_jupyter.storage.local import LocalStorage
from scout_jupyter.storage.s3 import S3Storage
from scout_jupyter.storage.supabase import SupabaseStorage
from scout_jupyter.ttl import DEFAULT_TTL, HARD_MAX_TTL, check_ttl, ttl_rule


@pytest.mark.parametrize("value", [1, 60, 3600, "1", "3600"])
def test_whole_seconds_within_the_cap_are_accepted(value):
    assert check_ttl(value, 3600) == int(value)


@pytest.mark.parametrize(
    "value, shown",
    [
        (0, "0"),
        (-1, "-1"),
        (3601, "3601"),
        ("0", "0"),
        ("-1", "-1"),
        ("1.5", "1.5"),
        ("1e21", "1e21"),
        ("abc", "abc"),
        (" 60", "' 60'"),
        (1.5, "1.5"),
        (True, "True"),
        (None, "None"),
        ("", "''"),
        ("9" * 40, repr("9" * 24)),
        ("6\n0", repr("6\n0")),
    ],
)
def test_everything_else_is_refused_with_the_rule(value, shown):
    with pytest.raises(InvalidTTL) as info:
        check_ttl(value, 3600)
    assert str(info.value) == f"Invalid TTL {shown}: expected a whole number of seconds from 1 to 3600"
    assert info.value.code == "invalid_ttl" and info.value.status == 400


def test_the_server_uses_the_rule_with_its_max_ttl():
    assert parse_ttl(None, 600) == 600 and parse_ttl("", 7200) == DEFAULT_TTL
    with pytest.raises(InvalidTTL, match=rf"^Invalid TTL 601: expected {ttl_rule(600)}$"):
        parse_ttl("601", 600)


def test_each_store_states_its_own_cap():
    assert Storage.max_sign_ttl == HARD_MAX_TTL == 86_400
    assert S3Storage.max_sign_ttl == 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days
    assert SupabaseStorage.max_sign_ttl == HARD_MAX_TTL  # Supabase sets none: ours applies
    assert LocalStorage.max_sign_ttl == HARD_MAX_TTL and not LocalStorage.signs_absolute_urls
    assert S3Storage.signs_absolute_urls and SupabaseStorage.signs_absolute_urls


def test_python_callers_pass_an_int_not_text():
    with pytest.raises(InvalidTTL, match=r"^Invalid TTL '60': expected a whole number of seconds from 1 to 3600$"):
        check_ttl("60", 3600, text=False)
