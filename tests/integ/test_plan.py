"""The deploy order of an end-to-end run, computed from ``requires`` over (environment, stack) pairs."""
from __future__ import annotations

import pytest

from generator import paths, registry
from generator.integ import plan

ENVS = ["dev", "prod", "staging", "tools"]


def stack(name, environments=None, requires=()):
    return type(f"Fake_{name}", (), {"name": name, "environments": environments, "requires": tuple(requires)})


def keys(deployments):
    return [d.key for d in deployments]


def sample_like():
    """The shape of the sample (names invented): a per-environment base, delivery stacks in one
    environment, targets that need a delivery stack, a pipeline that needs the targets."""
    return [
        stack("base"),
        stack("store", ("tools",), ["base"]),
        stack("images", ("tools",), ["base"]),
        stack("app", ("tools",)),
        stack("target", ("dev", "staging", "prod"), ["base", "tools:images", "tools:app"]),
        stack("pipe", ("tools",), ["base", "store", "staging:target", "prod:target"]),
    ]


def test_foundation_everywhere_first_then_delivery_stacks_targets_pipelines():
    order = keys(plan.order(sample_like(), ENVS, protected=lambda env: env in ("prod", "tools")))
    assert order == [
        "tools:base", "staging:base", "prod:base", "dev:base",
        "tools:store", "tools:images", "tools:app",
        "staging:target", "prod:target", "dev:target",
        "tools:pipe",
    ]


def test_every_requirement_comes_first_including_across_environments():
    stacks = sample_like()
    order = plan.order(stacks, ENVS)
    position = {d.key: i for i, d in enumerate(order)}
    for d in order:
        for req in d.cls.requires:
            env, _, name = req.rpartition(":")
            assert position[f"{env or d.env}:{name}"] < position[d.key], (d.key, req)


def test_a_cross_environment_requirement_reorders_the_registry_order():
    # registry order puts the consumer first; its requirement in another environment wins
    stacks = [stack("consumer", ("tools",), ["staging:producer"]), stack("producer", ("staging",))]
    assert keys(plan.order(stacks, ["staging", "tools"])) == ["staging:producer", "tools:consumer"]


def test_a_cycle_is_an_error_naming_it():
    stacks = [stack("a", ("tools",), ["staging:b"]), stack("b", ("staging",), ["tools:a"]), stack("c")]
    with pytest.raises(plan.PlanError) as err:
        plan.order(stacks, ["staging", "tools"])
    message = str(err.value)
    assert "cycle" in message
    assert "staging:b -> tools:a -> staging:b" in message or "tools:a -> staging:b -> tools:a" in message


def test_a_requirement_outside_the_plan_is_named():
    stacks = [stack("base"), stack("target", ("staging",), ["tools:images"])]
    with pytest.raises(plan.PlanError, match=r"staging:target requires tools:images.*'tools' does not deploy 'images'"):
        plan.order(stacks, ["staging", "tools"])
    with pytest.raises(plan.PlanError, match=r"environment 'tools' is not part of the run"):
        plan.order([stack("images", ("tools",)), stack("target", ("staging",), ["tools:images"])], ["staging"])


def test_the_projects_plan_covers_every_stack_of_every_environment():
    """Whatever the registry holds today: every (env, stack) once, requirements first."""
    order = plan.from_project()
    expected = {(env, s.name) for env in paths.environments() for s in registry.for_environment(env)}
    assert {(d.env, d.stack) for d in order} == expected
    assert len(order) == len(expected)
    position = {d.key: i for i, d in enumerate(order)}
    for d in order:
        for req in d.cls.requires:
            env, _, name = req.rpartition(":")
            assert position[f"{env or d.env}:{name}"] < position[d.key]
    # stacks without requirements deployed everywhere come first
    everywhere = [s.name for s in registry.STACKS if s.environments is None and not s.requires]
    assert {d.stack for d in order[:len(paths.environments()) * len(everywhere)]} == set(everywhere)
