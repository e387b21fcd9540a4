"""Publishing definitions: TOML → frozen dataclasses, and one clear ConfigError per mistake."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from scout_jupyter.errors import ConfigError
from scout_jupyter.publish.config import PublishConfig, load_config, parse_config

GOOD = """
[source]
url = "sqlite:///data/warehouse.sqlite"

[[datasets]]
id = "gold/txn_daily"
description = "Daily"
update_frequency = "daily"
query = "SELECT 1 AS x"

[[datasets]]
id = "platinum/store_perf"
description = "Perf"
update_frequency = "weekly"
callable = "tests.test_publish_support:scores"
materialize = "platinum_store_perf"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "datasets.toml"
    path.write_text(text)
    return path


def test_good_config_loads_into_frozen_dataclasses(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert isinstance(config, PublishConfig)
    assert config.ids == ["gold/txn_daily", "platinum/store_perf"]
    assert config.namespaces == ("scout/v1",)
    assert config.guard_csv_formulas is False
    assert config.source_url == f"sqlite:///{tmp_path / 'data' / 'warehouse.sqlite'}"
    perf = config.dataset("platinum/store_perf")
    assert perf.query is None and perf.callable == "tests.test_publish_support:scores"
    assert perf.materialize == "platinum_store_perf" and perf.layer == "platinum" and perf.name == "store_perf"
    assert callable(perf.load_callable())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.source_url = "x"  # type: ignore[misc]


def test_source_override_and_absolute_urls(tmp_path):
    config = load_config(write(tmp_path, GOOD), source_url="sqlite:///elsewhere.sqlite")
    assert config.source_url == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    assert config.with_source("postgresql+psycopg://u:pw@db/x").source_url == "postgresql+psycopg://u:pw@db/x"
    assert config.with_source("sqlite:////abs/w.sqlite").source_url == "sqlite:////abs/w.sqlite"
    assert config.with_source("sqlite://").source_url == "sqlite://"


def test_publish_section_options(tmp_path):
    text = GOOD.replace(
        "[[datasets]]",
        '[publish]\nnamespaces = ["scout/v1", "scout/v2"]\n'
        "guard_csv_formulas = true\nchunk_size = 10\nworkers = 3\n\n[[datasets]]",
        1,
    )
    config = load_config(write(tmp_path, text))
    assert config.namespaces == ("scout/v1", "scout/v2")
    assert config.guard_csv_formulas is True and config.chunk_size == 10 and config.workers == 3


def test_select_keeps_config_order_and_rejects_unknown_ids(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert [d.id for d in config.select(["platinum/store_perf", "gold/txn_daily"])] == config.ids
    with pytest.raises(ConfigError, match="gold/nope is not defined"):
        config.select(["gold/nope"])


@pytest.mark.parametrize(
    "change, message",
    [
        (('id = "gold/txn_daily"', 'id = "Gold/Txn"'), r"dataset #1: Invalid dataset id Gold/Txn"),
        (
            ('update_frequency = "daily"', 'update_frequency = "sometimes"'),
            r"\(gold/txn_daily\): update_frequency must be one of hourly, daily, weekly, monthly",
        ),
        (
            ('query = "SELECT 1 AS x"', 'query = "SELECT 1 AS x"\ncallable = "a.b:c"'),
            r"exactly one of query and callable",
        ),
        (('query = "SELECT 1 AS x"', ""), r"\(gold/txn_daily\): give exactly one of query and callable"),
        (('id = "platinum/store_perf"', 'id = "gold/txn_daily"'), r"dataset gold/txn_daily is defined twice"),
        (('callable = "tests.test_publish_support:scores"', 'callable = "not a callable"'), r"callable must look like"),
        (
            ('materialize = "platinum_store_perf"', 'materialize = "x; DROP TABLE y"'),
            r"materialize must be a table name",
        ),
        (('url = "sqlite:///data/warehouse.sqlite"', 'url = "::::"'), r"not a database URL"),
        (("[source]", "[sauce]"), r"unknown section\(s\) sauce"),
        (('description = "Daily"', 'descripton = "Daily"'), r"unknown field\(s\) descripton"),
    ],
)
def test_mistakes_name_the_file_and_the_entry(tmp_path, change, message):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in info.value.message or "dataset" in info.value.message
    assert "\n" not in info.value.message


@pytest.mark.parametrize(
    "publish, message",
    [
        ("namespaces = []", "namespaces must be a non-empty list"),
        ('namespaces = ["../etc"]', "bad namespace"),
        ('namespaces = ["scout/v1", "scout/v1"]', "listed twice"),
        ('guard_csv_formulas = "yes"', "guard_csv_formulas must be true or false"),
        ("chunk_size = 0", "chunk_size must be an integer"),
        ("workers = 0", "workers must be an integer in 1..32"),
        ("turbo = true", r"unknown \[publish\] option"),
    ],
)
def test_publish_section_mistakes(tmp_path, publish, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, f"[publish]\n{publish}\n" + GOOD))


def test_file_level_errors(tmp_path):
    with pytest.raises(ConfigError, match="Publish config not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[source\nurl="))
    with pytest.raises(ConfigError, match=r"\[source\] url is required"):
        parse_config({"datasets": []})
    with pytest.raises(ConfigError, match="no \\[\\[datasets\\]\\] defined"):
        parse_config({"source": {"url": "sqlite://"}})
    config = load_config(write(tmp_path, GOOD.replace("tests.test_publish_support:scores", "tests.nowhere:f")))
    with pytest.raises(ConfigError, match="cannot import 'tests.nowhere'"):
        config.dataset("platinum/store_perf").load_callable()
