"""keras_fer/durations.py: the time budgets of training and of the search."""
import pytest

from keras_fer.durations import flag, glue_values, minutes, parse_duration
from keras_fer.errors import UserError


def test_durations():
    assert [parse_duration(t) for t in ("45m", "2h", "1h30m", "90s", "1.5h", "10min", "none")] == \
        [2700, 7200, 5400, 90, 5400, 600, None]
    for bad in ("45", "soon", "2h45", "", "-5m"):
        with pytest.raises(UserError, match="--time-budget '.*': expected a duration such as 45m"):
            parse_duration(bad)
    with pytest.raises(UserError, match="'0m': must be more than 0"):
        parse_duration("0m")
    with pytest.raises(UserError, match=r"^run.json: time_budget '14x': expected"):
        parse_duration("14x", "run.json: time_budget")


def test_minutes():
    assert [minutes(s) for s in (40, 2700, 7200, 5400, 5430)] == [
        "40 s", "45 min", "2 h", "1 h 30 min", "1 h 30 min"]
    assert [flag(s) for s in (40, 2700, 7200, 5700, 10800)] == ["40s", "45m", "2h", "1h35m", "3h"]
    assert [parse_duration(flag(s)) for s in (40, 2700, 5700)] == [40, 2700, 5700]


def test_a_huge_budget_is_refused_not_made_infinite():
    assert parse_duration("8784h") == 8784 * 3600
    for huge in ("8785h", "9" * 400 + "h"):  # float("9" * 400) is inf
        with pytest.raises(UserError, match=r"must be at most a year, 8784h \(or none"):
            parse_duration(huge)


def test_a_value_that_starts_with_a_dash_stays_the_flag_s():
    assert glue_values(["--time-budget", "-5m", "--epochs", "3"]) == ["--time-budget=-5m",
                                                                      "--epochs", "3"]
    assert glue_values(["--time-budget", "--epochs"]) == ["--time-budget", "--epochs"]
    assert glue_values(["--lr", "-5"]) == ["--lr", "-5"]
