"""Stacks an application's pipeline updates (``infrastructure: pipeline``, docs/infrastructure.md), which
``cfn-delivery deploy`` leaves to that pipeline.

Such a stack is updated by the pipeline's ``CHANGE_SET_REPLACE``/``CHANGE_SET_EXECUTE`` actions with the
release's values (the ECS image tag from the build overrides the parameter file's ``ImageTag``). A manual
deploy of it would silently diverge from what the pipeline deployed, and could roll the image back to the
parameter file's tag. So deploy refuses a named stack (``--stack``) and skips, listing them, such stacks in a
run over several (``--all``, a plan across environments), before any change set is created.

Two cases still deploy:
- **First creation**: a stack that does not exist yet (or whose first create never completed) is created by
  deploy. The pipeline cannot create it: the application's pipeline stacks import every wave's target stacks'
  exports (``registry.requires``), so the targets exist before the pipeline does (CHANGE_SET_REPLACE would
  create a missing stack, but no pipeline exists to run it).
- **Break-glass**: ``--include-pipeline-owned`` deploys them anyway, with a warning.
"""
from __future__ import annotations

from .. import registry
from ..components import infrastructure

#: The deploy flag that deploys a pipeline-owned stack anyway.
OVERRIDE_FLAG = "--include-pipeline-owned"
#: States of a stack whose first create never completed: the pipeline has deployed nothing to it.
NEVER_CREATED = ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE")


def owner(p):
    """The application whose pipeline updates plan ``p``'s stack, else ``None``."""
    try:
        cls = registry.get(p.stack)
    except registry.UnknownStack:
        return None
    return infrastructure.pipeline_owner(cls, p.env)


def created(stack) -> bool:
    """``stack`` (DescribeStacks' entry, or ``None``) exists as a created stack."""
    return stack is not None and stack.get("StackStatus") not in NEVER_CREATED


def _key(app) -> str:
    from .. import model as model_module

    return f"{model_module.current().path}: applications[{app.name}].infrastructure"


def _publish(app) -> str:
    return f"cfn-delivery publish --app {app.name}"


def refusal(p, app) -> str:
    """One line: a named pipeline-owned stack is not deployed (exit 3)."""
    return (f"{_key(app)}: is 'pipeline', so the {app.name} pipeline updates stack {p.stack_name} ({p.stack} in "
            f"{p.env}) with each release; a deploy here would diverge from what it deployed (the parameter file's "
            f"values instead of the release's, such as an older image tag); nothing was changed; run "
            f"`{_publish(app)}` so the pipeline deploys it, or pass {OVERRIDE_FLAG} (break-glass)")


def skipped(p, app) -> str:
    """The line of a pipeline-owned stack a run over several stacks skips."""
    return (f"== {p.env}/{p.stack}: skipped: the {app.name} pipeline updates it ({_key(app)}: pipeline); "
            f"`{_publish(app)}` deploys it through the pipeline, {OVERRIDE_FLAG} deploys it here")


def first_creation(p, app, dry_run=False) -> str:
    who = "a deploy without --dry-run creates it" if dry_run else "deploy creates it"
    return (f"{p.stack_name} is not created yet: {who} (the {app.name} pipeline cannot: its stacks "
            f"import this stack's exports); from then on the pipeline updates it (`{_publish(app)}`)")


def break_glass(p, app) -> str:
    return (f"warning: {OVERRIDE_FLAG}: the {app.name} pipeline updates {p.stack_name}; this deploy applies "
            f"params/{p.env}/{p.stack}.json's values over the release it deployed; run the pipeline again "
            f"(`{_publish(app)}`) to return the stack to the release")


def summary(names: list) -> str:
    return (f"skipped {len(names)} stack(s) the pipeline updates ({', '.join(names)}): publish the application "
            f"(cfn-delivery publish --app <app>) or pass {OVERRIDE_FLAG}")
