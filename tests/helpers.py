"""Shared test helpers: load committed templates, find resources, walk values."""
from __future__ import annotations

from pathlib import Path

from generator import registry, yamlio

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
PARAMS = ROOT / "params"


def load_template(stack: str) -> dict:
    return yamlio.load_file(TEMPLATES / f"{stack}.yaml")


def all_templates() -> dict:
    return {name: load_template(name) for name in registry.names()}


def resources(template: dict, rtype: str = None) -> dict:
    return {k: v for k, v in template.get("Resources", {}).items() if rtype is None or v["Type"] == rtype}


def one(template: dict, rtype: str):
    found = resources(template, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {sorted(found)}"
    return next(iter(found.items()))


def walk(value):
    """Every nested value (dicts, lists, scalars)."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def statements(policy_document: dict) -> list:
    found = policy_document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value):
    return value if isinstance(value, list) else [value]


MODEL = ROOT / "delivery.yaml"


def copy_model(root: Path, text: str = None) -> Path:
    """Put the repository's delivery.yaml (or ``text``) into a temporary project root; its path."""
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    target = root / "delivery.yaml"
    if text is None:
        shutil.copy(MODEL, target)
    else:
        target.write_text(text, encoding="utf-8")
    return target


def exported_role(roles_template: dict, roles_stack: str, reference) -> str:
    """The logical id of the role, in the pipeline's roles stack, that ``reference`` (an imported ARN
    in the pipeline stack: ``RoleArn`` of the pipeline or of an action) names."""
    name = reference["Fn::ImportValue"]["Fn::Sub"]
    prefix = "${ProjectName}-${EnvironmentName}-%s-" % roles_stack
    assert name.startswith(prefix), f"{name} is not a role of {roles_stack}"
    return roles_template["Outputs"][name[len(prefix):]]["Value"]["Fn::GetAtt"][0]


def lint_one_region(text: str) -> list:
    """cfn-lint's matches with informational and the project's rules in one region, as the rule tests
    judge a fixture (the process's linter: rules loaded once, each text linted once)."""
    from generator.lint import cfn_linter, gate

    return cfn_linter.linter(("I",), (str(gate.RULES_DIR),), ("us-east-1",)).matches(text)
