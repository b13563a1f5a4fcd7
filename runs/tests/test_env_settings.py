from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from k6intel.env import env_bool, env_duration_s, env_float, env_int, env_list, env_str, parse_duration_s


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("ON", True), ("no", False), ("0", False), ("", False)])
def test_env_bool_reads_the_usual_spellings(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("K6I_FLAG", raw)
    assert env_bool("K6I_FLAG", not expected) is expected


def test_env_bool_rejects_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K6I_FLAG", "yes please")
    with pytest.raises(ImproperlyConfigured, match="K6I_FLAG"):
        env_bool("K6I_FLAG", False)


def test_env_int_rejects_junk_and_out_of_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K6I_N", "12abc")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("K6I_N", 1)
    monkeypatch.setenv("K6I_N", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum"):
        env_int("K6I_N", 1, minimum=1)
    monkeypatch.setenv("K6I_N", "7")
    assert env_int("K6I_N", 1, minimum=1, maximum=10) == 7


def test_env_float_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K6I_RATE", "1.5")
    with pytest.raises(ImproperlyConfigured, match="above the maximum"):
        env_float("K6I_RATE", 0.1, maximum=1.0)


def test_required_string_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K6I_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="K6I_SECRET must be set"):
        env_str("K6I_SECRET")


def test_durations_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_duration_s("1h30m") == 5400
    assert parse_duration_s("1m30s") == 90
    assert parse_duration_s("500ms") == 0.5
    assert parse_duration_s("30 seconds") is None
    monkeypatch.setenv("K6I_DUR", "soon")
    with pytest.raises(ImproperlyConfigured, match="not a duration"):
        env_duration_s("K6I_DUR", "30m")
    monkeypatch.setenv("K6I_LIST", " a, b ,,c ")
    assert env_list("K6I_LIST") == ["a", "b", "c"]


def test_sqlite_lets_readers_go_on_and_writers_wait_their_turn(tmp_path: Path) -> None:
    """The embedded default serves each request from its own thread and connection: writers must
    queue for SQLite's single write lock instead of failing with "database is locked"."""
    from k6intel.settings import _database

    config = _database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    options = config["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] >= 5
    connection = sqlite3.connect(config["NAME"])
    connection.executescript(options["init_command"])
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
