"""Scenarios: presets load and validate; bad input names the field, the value and the form."""

from __future__ import annotations

import pytest

from margincall.core.errors import InvalidInputError
from margincall.sim.scenario import (
    PRESETS,
    Scenario,
    load_scenario,
    parse_scenario,
    preset_summaries,
    preset_text,
)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_with_its_name_and_a_description(name):
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.description
    assert "#" in preset_text(name)  # presets carry their sources in comments


def test_preset_summaries_are_one_line_each():
    rows = preset_summaries()
    assert [n for n, _ in rows] == list(PRESETS)
    assert all("\n" not in text for _, text in rows)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InvalidInputError) as exc:
        load_scenario("no-such-preset")
    for name in PRESETS:
        assert name in str(exc.value)


def test_invalid_value_names_field_value_and_expected_form(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[run]\nhours = -3\n")
    with pytest.raises(InvalidInputError) as exc:
        load_scenario(path)
    msg = str(exc.value)
    assert "run.hours" in msg and "-3" in msg and "greater than 0" in msg


def test_unknown_field_is_refused(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[makers]\ndepht_1pct_usd = 5\n")
    with pytest.raises(InvalidInputError) as exc:
        load_scenario(path)
    assert "makers.depht_1pct_usd" in str(exc.value)


def test_broken_toml_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[run\nhours = 1\n")
    with pytest.raises(InvalidInputError, match="valid TOML"):
        load_scenario(path)


def test_non_stationary_garch_is_refused():
    with pytest.raises(InvalidInputError, match="stationary"):
        parse_scenario({"index": {"garch_alpha": 0.2, "garch_beta": 0.85}})


def test_cohort_account_shares_must_sum_to_one():
    data = Scenario().model_dump()
    data["population"]["retail"]["share_of_accounts"] = 0.5
    with pytest.raises(InvalidInputError, match=r"sum to 0\.530"):
        parse_scenario(data)


def test_overrides_replace_run_fields_and_are_validated():
    sc = load_scenario("calm").with_overrides(hours=2, accounts=5_000, rulebook=None)
    assert sc.run.hours == 2 and sc.run.accounts == 5_000 and sc.run.rulebook == "binance"
    with pytest.raises(InvalidInputError, match=r"run\.accounts"):
        sc.with_overrides(accounts=3)


def test_a_preset_round_trips_through_its_dump():
    sc = load_scenario("feb-2026")
    assert parse_scenario(sc.model_dump()) == sc
