"""Cross-stack values resolve: every ``Fn::ImportValue`` of every committed template names an export that
the stack it points at declares, and that stack is one the importer ``requires`` (so deploy order holds).

Export names follow ``{ProjectName}-{env}-{stack}-{key}``; an importer's env part is its own
``${EnvironmentName}``, another environment's parameter (``${StagingEnvironment}``, resolved with the
parameter's default), or a literal environment name."""
import re

import pytest

from generator import registry
from tests.helpers import load_template, walk

NAME = re.compile(r"^\$\{ProjectName\}-(?P<env>\$\{[A-Za-z]+\}|[a-z][a-z0-9]{1,7})-(?P<rest>.+)$")


def exports() -> dict:
    """``stack -> {key}`` of every committed template's exports."""
    found = {}
    for stack in registry.names():
        for output in load_template(stack).get("Outputs", {}).values():
            if "Export" not in output:
                continue
            name = output["Export"].get("Name", {})
            text = name.get("Fn::Sub") if isinstance(name, dict) else None
            assert text and text.startswith("${ProjectName}-${EnvironmentName}-%s-" % stack), (stack, name)
            found.setdefault(stack, set()).add(text.split("${EnvironmentName}-%s-" % stack, 1)[1])
    return found


EXPORTS = exports()


def imports(template) -> list:
    """``(env part, stack-key text)`` of every import of ``template``."""
    found = []
    for value in walk(template):
        if isinstance(value, dict) and "Fn::ImportValue" in value:
            name = value["Fn::ImportValue"]
            text = name["Fn::Sub"] if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str) else None
            assert text, f"an import name must be Fn::Sub text, not {name}"
            match = NAME.match(text)
            assert match, text
            found.append((match.group("env"), match.group("rest")))
    return found


def split(rest: str):
    """``(stack, key)`` of ``<stack>-<key>``: the longest stack name that exports ``key``."""
    for stack in sorted(EXPORTS, key=len, reverse=True):
        if rest.startswith(stack + "-") and rest[len(stack) + 1:] in EXPORTS[stack]:
            return stack, rest[len(stack) + 1:]
    return None, rest


@pytest.mark.parametrize("stack", registry.names())
def test_every_import_names_an_export_of_a_required_stack(stack):
    template = load_template(stack)
    requires = registry.get(stack).requires
    for env, rest in imports(template):
        source, key = split(rest)
        assert source is not None, f"{stack}: imports {env}-{rest}, which no stack exports"
        if env == "${EnvironmentName}":
            wanted = {source}
        elif env.startswith("${"):
            default = template["Parameters"][env[2:-1]]["Default"]
            wanted = {f"{default}:{source}"}
        else:
            wanted = {f"{env}:{source}"}
        assert wanted & set(requires), f"{stack} imports {env}-{source}-{key} but does not require {wanted}"


def test_imports_are_found():
    assert sum(len(imports(load_template(s))) for s in registry.names()) > 50
