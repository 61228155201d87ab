"""Run cfripper's command line over several (template, parameter set) jobs in one process.

Executed with the scanners' Python (``.venv-scanners/bin/python generator/lint/cfripper_runner.py
JOBS.json``), never imported by the project: it needs cfripper, which lives only in .venv-scanners.
Each job calls cfripper's own click command (``cfripper.cli.cli``) with the command line
``make lint`` documents — ``--resolve --resolve-parameters FILE --aws-account-id 123456789012
--rules-filters-folder DIR --format json`` — one process instead of one per job, because cfripper's
start-up (its pydantic models) costs seconds each time.

Before that, the template is copied to the job's ``view`` path with one change: pycfmodel, cfripper's
parser, refuses properties its typed resource models do not declare (pycfmodel 2.1.3 has no ``Tags``
on ``AWS::ElasticLoadBalancingV2::Listener``, a property CloudFormation added later) and cfripper
then crashes. Those top-level properties are dropped from the copy — no cfripper rule can read them —
and reported back, so ``make lint`` prints exactly what cfripper did not see.

Output on stdout: one JSON object ``{job label: {"unseen": [...], "exit": code, "report": {...}}}``.
"""
from __future__ import annotations

import contextlib
import io
import json
import sys
import typing

from cfn_flip import load
from pydantic import BaseModel
from pycfmodel.model.resources.types import ResourceModels


def _models(annotation):
    """Every pydantic model reachable through Union/Annotated/Optional/List in ``annotation``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def known_properties() -> dict:
    """``{resource type: property names}`` for the resource types pycfmodel models."""
    known = {}
    union = typing.get_args(ResourceModels)[0]
    for resource_cls in typing.get_args(union):
        types = typing.get_args(resource_cls.model_fields["Type"].annotation)
        props = [m for m in _models(resource_cls.model_fields["Properties"].annotation)
                 if m.__name__.endswith("Properties")]
        if not props:
            continue
        names = {info.alias or name for name, info in props[0].model_fields.items()}
        for resource_type in types:
            known[resource_type] = names
    return known


def make_view(template: dict, known: dict) -> list:
    dropped = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") not in known:
            continue
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        for name in sorted(set(props) - known[resource["Type"]]):
            del props[name]
            dropped.append(f"{logical_id}.{name}")
    return dropped


def remember_action_expansions() -> None:
    """pycfmodel expands an action (``s3:Get*``, ``iam:PassRole``) by matching it as a pattern against every
    IAM action it knows (~15,000), and cfripper's rules ask again for every statement, rule and job: on the
    committed templates ~2,800 expansions, ~20 s, four fifths of the runner's time, for a few hundred distinct
    actions. An expansion depends only on the action and pycfmodel's action list, so it is remembered for
    this process: the same lists (a new one per call, as before), computed once. Both names the function is
    called by are replaced (``statement.py`` imported it by name); anything but a string goes to the
    original, which raises as before."""
    from pycfmodel import action_expander
    from pycfmodel.model.resources.properties import statement

    original = action_expander._expand_action
    expanded = {}

    def expand(action, not_action=False):
        if not isinstance(action, str):
            return original(action, not_action=not_action)
        key = (action, bool(not_action))
        if key not in expanded:
            expanded[key] = tuple(original(action, not_action=not_action))
        return list(expanded[key])

    for module in (action_expander, statement):
        if getattr(module, "_expand_action", None) is original:
            module._expand_action = expand


def run_cli(args: list) -> tuple:
    """``(exit code, stdout)`` of ``cfripper ARGS`` run in this process."""
    from cfripper.cli import cli

    out = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out):
        try:
            cli.main(args=args, prog_name="cfripper", standalone_mode=True)
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return code, out.getvalue()


def main(argv) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        jobs = json.load(handle)
    known = known_properties()
    remember_action_expansions()
    results = {}
    views = {}
    for job in jobs:
        if job["view"] not in views:
            with open(job["template"], encoding="utf-8") as handle:
                template, _ = load(handle.read())
            views[job["view"]] = make_view(template, known)
            with open(job["view"], "w", encoding="utf-8") as handle:
                json.dump(template, handle, indent=1, default=str)
        code, stdout = run_cli([job["view"]] + job["args"])
        lines = [line for line in stdout.splitlines() if line.strip()]
        try:
            report = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            report = None
        results[job["label"]] = {"unseen": views[job["view"]], "exit": code, "report": report}
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
