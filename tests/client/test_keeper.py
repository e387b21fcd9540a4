"""A cold load's parsed copy is written in the background (scout_jupyter/keeper.py): the next load
waits for it, and what the user does to the frame they got never reaches the copy."""

from __future__ import annotations

import threading

import pandas as pd

from scout_jupyter.keeper import ParsedKeeper, copy_on_write

TXN = "gold/txn_daily"


def test_changing_the_loaded_frame_does_not_change_the_parsed_copy(direct_client):
    assert direct_client.cache.keeper.background == copy_on_write()
    cold = direct_client.load(TXN)
    original = cold.copy(deep=True)
    cold.loc[0, "store_code"] = "9999"  # in place, right after the load, while the copy may be writing
    cold.iloc[1, cold.columns.get_loc("revenue")] = -1.0
    warm = direct_client.load(TXN)
    assert warm.attrs["scout"]["source"] == "cache" and warm.attrs["scout"]["format"] == "arrow"
    pd.testing.assert_frame_equal(warm, original, check_like=False, check_flags=False)


def test_a_load_waits_for_the_pending_write_of_its_copy(tmp_path):
    keeper = ParsedKeeper(background=True)
    release, written = threading.Event(), []
    frame = pd.DataFrame({"a": [1, 2]})

    def slow_write(whole: pd.DataFrame) -> None:
        release.wait(timeout=30)
        written.append(whole["a"].tolist())

    handed = keeper.keep(tmp_path / "x.arrow", frame, slow_write)
    handed.loc[0, "a"] = 100
    release.set()
    keeper.wait(tmp_path / "x.arrow")
    assert written == [[1, 2]] and frame["a"].tolist() == [1, 2]
    keeper.close()


def test_without_background_the_copy_is_written_before_the_load_returns(tmp_path):
    keeper = ParsedKeeper(background=False)
    written = []
    frame = pd.DataFrame({"a": [1]})
    assert keeper.keep(tmp_path / "x.arrow", frame, lambda whole: written.append(1)) is frame
    assert written == [1]
