"""The ``lambda`` kind's stacks as every example model that has a ``lambda`` application renders them
(the sample delivery.yaml has none): names come from the models, never from this file."""
from __future__ import annotations

from pathlib import Path

from generator import model, registry, render

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "models").glob("*.yaml"))


def lambda_models() -> list:
    """The example models with a ``lambda`` application whose waves all run in the tools account and Region
    (a wave in another account or Region is named by physical names under its account's roles: those are
    asserted in tests/test_cross_account.py)."""
    from generator.components import placement

    loaded = [model.load(path) for path in EXAMPLES]
    return [m for m in loaded if any(app.kind == "lambda" for app in m.applications)
            and not any(placement.placement(m, env).away for app in m.applications for env in app.waves)]


def stacks_of(stack_base) -> list:
    """Every stack class of ``stack_base`` in the models with a ``lambda`` application."""
    return [cls for m in lambda_models() for cls in registry.stacks(m) if issubclass(cls, stack_base)]


def template(cls) -> dict:
    return render.rendered(cls)[0]


def stack_named(cls, name):
    """The stack called ``name`` of the model ``cls`` belongs to."""
    return next(s for s in registry.stacks(cls.model) if s.name == name)


def stack_id(cls) -> str:
    return f"{Path(cls.model.path).stem}:{cls.name}"
