"""Publish → load of a table built to break CSV round trips: values and dtypes come back identical."""

from __future__ import annotations

import datetime as dt
import sqlite3

import numpy as np
import pandas as pd
import pytest

from scout_jupyter.client import connect
from scout_jupyter.publish import parse_config, publish

from .fakeserver import TOKEN, FakeScoutServer

TRICKY = "gold/tricky"
MANILA = dt.timezone(dt.timedelta(hours=8))
TEXT = [
    "plain",
    "",
    None,
    "comma, inside",
    'say "hi"',
    "two\nlines",
    "crlf\r\nend",
    "Ñoño 🍜 中文 ‏rtl",
    '=HYPERLINK("x")',
    "  padded  ",
]


def tricky_frame(conn=None) -> pd.DataFrame:
    """The source rows (called by the publisher with a SQLAlchemy connection)."""
    n = len(TEXT)
    return pd.DataFrame(
        {
            "store_code": ["0042", "007", "0", "00000", None, "0100", "42", "0042", "1", "09"],
            "big_int": pd.array([2**63 - 1, -(2**63), 2**53 + 1, 0, None, 1, -1, 10**18, 7, 2**62], dtype="Int64"),
            "huge_int": [
                "123456789012345678901234567890",
                "1",
                None,
                "-99999999999999999999",
                "2",
                "3",
                "4",
                "5",
                "6",
                "7",
            ],
            "text": TEXT,
            "day": [dt.date(2024, 8, 10), dt.date(1999, 12, 31), None, dt.date(2024, 2, 29)]
            + [dt.date(2000, 1, 1)] * (n - 4),
            "moment": [
                dt.datetime(2024, 8, 10, 8, 30, 15, 123456, tzinfo=MANILA),
                None,
                dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.timezone.utc),
            ]
            + [dt.datetime(2024, 3, 10, 2, 0, tzinfo=MANILA)] * (n - 3),
            "flag": [True, False, None, True, False, True, False, True, None, False],
            "amount": [1.5, float("nan"), -0.0, 1e-300, 123456.789, 0.1 + 0.2, -2.5, 1e20, 3.0, 42.0],
        }
    )


def expected_frame() -> pd.DataFrame:
    source = tricky_frame()
    strings = pd.StringDtype("pyarrow")
    return pd.DataFrame(
        {
            "store_code": source["store_code"].astype(strings),
            "big_int": source["big_int"],
            "huge_int": source["huge_int"].astype(strings),
            "text": source["text"].astype(strings),
            "day": pd.to_datetime(source["day"]).astype("datetime64[ms]"),
            "moment": pd.to_datetime(source["moment"], utc=True).astype("datetime64[us, UTC]"),
            "flag": source["flag"].astype("boolean"),
            "amount": source["amount"].astype("float64"),
        }
    )


@pytest.fixture
def published(tmp_path, small_store, fake_clock):
    sqlite3.connect(tmp_path / "src.sqlite").close()
    config = parse_config(
        {
            "source": {"url": f"sqlite:///{tmp_path / 'src.sqlite'}"},
            "datasets": [
                {
                    "id": TRICKY,
                    "description": "Round-trip torture table",
                    "update_frequency": "daily",
                    "callable": "tests.client.test_roundtrip:tricky_frame",
                }
            ],
        }
    )
    result = publish(config, small_store.storage, clock=fake_clock)
    assert result.ok, result.summary()
    return small_store


def test_round_trip_direct_and_proxy(published, tmp_path, fake_clock, retry):
    direct = connect(
        storage_url=published.storage, cache_dir=tmp_path / "c1", clock=fake_clock, retry=retry, set_default=False
    )
    loaded = direct.load(TRICKY)
    entry = direct.entry(TRICKY)
    assert {f["name"]: f["type"] for f in entry.schema["fields"]} == {
        "store_code": "string",
        "big_int": "integer",
        "huge_int": "string",
        "text": "string",
        "day": "date",
        "moment": "datetime",
        "flag": "boolean",
        "amount": "number",
    }
    expected = expected_frame()
    pd.testing.assert_frame_equal(loaded, expected)
    assert loaded["text"].iloc[1] == "" and loaded["text"].isna().tolist()[2]  # empty string is not null
    assert loaded["big_int"].iloc[0] == 2**63 - 1 and loaded["big_int"].iloc[2] == 2**53 + 1
    assert np.signbit(loaded["amount"].iloc[2])
    pd.testing.assert_frame_equal(direct.load(TRICKY), expected)  # warm: from the parsed copy

    with FakeScoutServer(published.storage) as server:
        proxy = connect(
            api_url=server.url, token=TOKEN, cache_dir=tmp_path / "c2", clock=fake_clock, retry=retry, set_default=False
        )
        part = proxy.load(TRICKY, columns=["text", "moment"], limit=4)  # cold: the Parquet copy
        assert part.attrs["scout"]["format"] == "parquet"
        pd.testing.assert_frame_equal(part, expected[["text", "moment"]].iloc[:4])
        pd.testing.assert_frame_equal(proxy.load(TRICKY), expected)


def test_direct_mode_publishes_in_process(small_store, tmp_path, fake_clock, retry, capsys):
    from IPython.testing.globalipapp import get_ipython

    from scout_jupyter.magics import ScoutMagics

    sqlite3.connect(tmp_path / "src.sqlite").close()
    config = tmp_path / "datasets.toml"
    config.write_text(
        f'[source]\nurl = "sqlite:///{tmp_path / "src.sqlite"}"\n\n[[datasets]]\nid = "{TRICKY}"\n'
        'description = "Round-trip torture table"\nupdate_frequency = "daily"\n'
        'callable = "tests.client.test_roundtrip:tricky_frame"\n'
    )
    client = connect(
        storage_url=small_store.storage,
        cache_dir=tmp_path / "c",
        clock=fake_clock,
        retry=retry,
        publish_config=str(config),
        set_default=False,
    )
    client.datasets()  # a manifest without the new dataset, within its TTL
    seen = []
    status = client.publish([TRICKY], on_progress=seen.append)
    assert status.ok and status.state == "succeeded" and seen[-1] == status
    assert [d["state"] for d in status.datasets] == ["succeeded"]
    pd.testing.assert_frame_equal(client.load(TRICKY), expected_frame())  # the publish refreshed the manifest
    shell = get_ipython()
    shell.register_magics(ScoutMagics(shell, client_factory=lambda: client))
    shell.run_line_magic("scout", f"publish {TRICKY}")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("publish ") and last.endswith(": succeeded (100%); 1 succeeded")
