"""The example models under examples/models/ render completely: every stack, every parameter file
(no model value that reaches no stack, no required parameter left unset), every physical name within
its service's limit, and pipelines built from each application's waves."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator import budget, model, names, paramgen, registry, render

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "models").glob("*.yaml"))


@pytest.fixture(params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    return model.load(request.param)


def test_there_are_example_models():
    assert len(EXAMPLES) >= 2


def test_example_renders_every_stack_and_parameter_file(example):
    stacks = registry.stacks(example)
    assert len({s.name for s in stacks}) == len(stacks)
    assert paramgen.problems(example) == [] and names.problems(example) == []
    for app in example.applications:
        own = [s for s in stacks if s.app is app]
        assert own, app.name
    files = paramgen.expected_files(example)
    for env in example.environment_names:
        assert any(path.parent.name == env for path in files), env


def test_example_pipelines_follow_their_waves(example):
    for cls in registry.stacks(example):
        if not cls.name.endswith("-pipeline") or cls.app is None:
            continue
        stages = [s["Name"] for s in render.rendered(cls)[0]["Resources"]["Pipeline"]["Properties"]["Stages"]]
        deploys = [s[len("Deploy"):] for s in stages if s.startswith("Deploy")]
        assert [d.lower() for d in deploys] == [w.replace("-", "") for w in cls.app.waves]
        for wave in cls.app.waves:
            label = wave.capitalize()
            approved = f"Approve{label}" in stages
            assert approved == example.environment(wave).protected
            if approved:
                assert stages.index(f"Approve{label}") == stages.index(f"Deploy{label}") - 1


def test_example_placeholders_are_listed(example):
    marked = example.placeholders()
    assert marked and all(v.placeholder and ":" in v.origin for v in marked)


def test_example_templates_meet_the_budget(example):
    """Rendering enforces the budget (``budget.enforce``); checked here explicitly as well."""
    for cls in registry.stacks(example):
        template, text = render.rendered(cls)
        assert budget.findings(cls.name, template, text) == []
