"""A Lambda wave's traffic-shifting strategy (``DeployStrategy<Wave>``) waits at most 2 days in all, the
Lambda deploy action's limit (``MAX_DEPLOY_STRATEGY_MINUTES``): refused at render time at the model key that
sets it (exit 2, one line), by deploy at the parameter file's key (tests/deploy/test_stack_value_checks.py),
and by cfn-lint rule E9123 in a template (tests/test_own_rules.py). The model is an example with a ``lambda``
application, its strategy key found in its text, never named here."""
from __future__ import annotations

import re

import pytest

from generator import cli, model, paramgen
from generator.stacks.lambda_pipeline import (DEFAULT_DEPLOY_STRATEGY, DEPLOY_STRATEGY_PATTERN,
                                              MAX_DEPLOY_STRATEGY_MINUTES,
                                              strategy_minutes, strategy_problem)
from tests.stacks.lambda_helpers import EXAMPLES, lambda_models

OVER = "Linear1PercentEvery30Minutes"  # 99 waits of 30 minutes: 2970


@pytest.mark.parametrize("strategy,minutes", [
    ("AllAtOnce", 0), ("Canary10Percent5Minutes", 5), ("Canary10Percent1Minute", 1),
    ("Linear10PercentEvery1Minute", 9),           # 10 shifts, 9 waits between them
    ("Linear10PercentEvery2Minutes", 18),
    ("Linear30PercentEvery10Minutes", 30),        # 30, 60, 90, 100: 4 shifts, 3 waits
    ("Linear99PercentEvery2880Minutes", 2880),    # 2 shifts, one wait of 2 days
    ("Linear1PercentEvery30Minutes", 2970), ("Canary10Percent9999Minutes", 9999),
    ("canary", None), ("Blue", None),
])
def test_total_wait(strategy, minutes):
    assert strategy_minutes(strategy) == minutes


@pytest.mark.parametrize("strategy,refused", [
    ("Canary10Percent2880Minutes", False), ("Canary10Percent2881Minutes", True),
    ("Linear50PercentEvery2880Minutes", False), ("Linear50PercentEvery2881Minutes", True),
    ("Linear10PercentEvery320Minutes", False), ("Linear10PercentEvery321Minutes", True),  # 9 waits: 2880 / 2889
    ("AllAtOnce", False), ("not-a-strategy", False),  # the pattern's to refuse, not this check's
])
def test_the_limit_is_two_days(strategy, refused):
    assert MAX_DEPLOY_STRATEGY_MINUTES == 2 * 24 * 60
    problem = strategy_problem(strategy)
    assert (problem is not None) is refused
    if refused:
        assert re.fullmatch(DEPLOY_STRATEGY_PATTERN, strategy)  # the pattern alone lets it through
        assert f"'{strategy}' waits {strategy_minutes(strategy)} minutes in all" in problem and "; use " in problem


def test_the_default_strategy_is_within_the_limit():
    assert strategy_problem(DEFAULT_DEPLOY_STRATEGY) is None


def _lambda_example():
    path = next(p for p in EXAMPLES if any(app.kind == "lambda" for app in model.load(p).applications))
    text = path.read_text(encoding="utf-8")
    match = re.search(r"\b(DeployStrategy\w+): (\w+)", text)
    assert match, f"{path}: no DeployStrategy<Wave> value to change"
    return path, text, match


def test_an_example_sets_a_strategy_so_the_model_tests_below_are_not_vacuous():
    assert lambda_models() and _lambda_example()


def test_a_model_strategy_over_the_limit_is_one_line_at_its_model_key():
    path, text, match = _lambda_example()
    edited = text[:match.start(2)] + OVER + text[match.end(2):]
    problems = paramgen.problems(model.loads(edited, "delivery.yaml"))
    line = text[:match.start()].count("\n") + 1
    found = [p for p in problems if match[1] in p]
    assert len(found) == 1, problems
    assert re.match(rf"delivery\.yaml:{line}: applications\[\d+\]\.overrides\.\w+\.{match[1]}: '{OVER}' waits 2970 "
                    rf"minutes in all, over the 2880 minutes \(2 days\)", found[0]), found[0]
    assert paramgen.problems(model.loads(text, "delivery.yaml")) == []  # the example as it is passes


def test_templates_refuses_it_with_exit_2_and_writes_nothing(tmp_path, capsys):
    path, text, match = _lambda_example()
    edited = tmp_path / "delivery.yaml"
    edited.write_text(text[:match.start(2)] + OVER + text[match.end(2):], encoding="utf-8")
    out = tmp_path / "out"
    capsys.readouterr()
    code = cli.main(["--model", str(edited), "templates", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"{match[1]}: '{OVER}' waits 2970 minutes" in err
    assert not (out / "params").exists()
