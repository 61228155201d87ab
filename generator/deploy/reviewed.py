"""``--execute-change-set NAME``: execute the change set a reviewer saw, only if it still is what
the working tree would deploy.

A change set left by ``--no-execute`` was reviewed as a table; between the review and the execution
the local template or parameter file may have moved on (a new commit, an edited parameter file).
Executing it then would deploy something that is neither reviewed nor committed, so before
executing, the change set's own template (GetTemplate with ``ChangeSetName``) and its parameters
and tags (DescribeChangeSet) are compared with the local plan. Any difference refuses with exit 2;
nothing is deleted, so the reviewed change set stays available.

Local server limit (LocalStack 2026.3): GetTemplate with ChangeSetName answers with the *stack's*
template (none for a CREATE change set), not the change set's; the tests against it cover changed
parameters and a template edited after the review, the Stubber tests cover AWS's answer.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html
"""
from __future__ import annotations

from botocore.exceptions import ClientError

from ..stackmodel import change_set_template
from .errors import UsageError

NOT_FOUND = ("ChangeSetNotFound", "ChangeSetNotFoundException")


def _template(cfn, stack_name: str, name: str) -> dict:
    template = change_set_template(cfn, stack_name, name)
    if template is None:
        raise UsageError(f"the template of change set {name} could not be read (GetTemplate returned no body), so "
                         f"it cannot be checked against the local template; nothing was executed")
    return template


def _template_differences(theirs: dict, ours: dict) -> list:
    """Short names of what differs: resources by logical id, else the top-level sections."""
    found = []
    old, new = theirs.get("Resources") or {}, ours.get("Resources") or {}
    resources = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if resources:
        found.append(f"resources {', '.join(resources)}")
    sections = sorted(k for k in set(theirs) | set(ours) if k != "Resources" and theirs.get(k) != ours.get(k))
    if sections:
        found.append(f"sections {', '.join(sections)}")
    return found


def _shown(value) -> str:
    return "(unset)" if value is None else repr(value)


def differences(change_set: dict, change_set_template: dict, plan) -> tuple:
    """``(differences, notes)``: one phrase per mismatch between the change set and the local plan,
    and notes about what could not be compared (NoEcho parameters)."""
    found, notes = [], []
    template = _template_differences(change_set_template, plan.template)
    if template:
        found.append(f"template ({'; '.join(template)})")
    theirs = {p["ParameterKey"]: p.get("ParameterValue") for p in change_set.get("Parameters") or []}
    ours = plan.effective_parameters()
    hidden = plan.no_echo()
    keys = sorted(k for k in set(theirs) | set(ours) if k not in hidden)
    # a parameter the change set omits takes the template default: only a value the file gives must be there
    changed = [k for k in keys
               if (k in theirs and theirs[k] != ours.get(k)) or (k not in theirs and k in plan.params.parameters)]
    if changed:
        found.append("parameters " + ", ".join(f"{k} (change set {_shown(theirs.get(k))}, local {_shown(ours.get(k))})"
                                               for k in changed))
    if hidden & set(theirs):
        notes.append(f"NoEcho parameters cannot be compared: {', '.join(sorted(hidden & set(theirs)))}")
    if "Tags" in change_set:
        their_tags = {t["Key"]: t["Value"] for t in change_set.get("Tags") or []}
        if their_tags != plan.tags:
            keys = sorted(k for k in set(their_tags) | set(plan.tags) if their_tags.get(k) != plan.tags.get(k))
            found.append(f"tags {', '.join(keys)}")
    return found, notes


def check(cfn, plan, name: str, describe) -> dict:
    """The change set ``name`` of ``plan``'s stack (every page, via ``describe``), after checking that
    it can be executed and still matches the local template, parameters and tags; ``UsageError``
    (exit 2, one line, nothing deleted) otherwise."""
    retry = (f"create a new one with `cfn-delivery deploy --env {plan.env} --stack {plan.stack} --no-execute`, "
             f"review it, then execute that")
    try:
        change_set = describe(cfn, plan.stack_name, name)
    except ClientError as err:
        error = err.response.get("Error", {})
        if error.get("Code") in NOT_FOUND or "does not exist" in (error.get("Message") or ""):
            raise UsageError(f"change set {name} not found on stack {plan.stack_name}; list them with `aws "
                             f"cloudformation list-change-sets --stack-name {plan.stack_name}`, or {retry}")
        raise
    status, execution = change_set.get("Status"), change_set.get("ExecutionStatus")
    if status != "CREATE_COMPLETE" or execution != "AVAILABLE":
        reason = " ".join((change_set.get("StatusReason") or "").split())
        why = {"OBSOLETE": "the stack changed after it was created",
               "EXECUTE_COMPLETE": "it was already executed",
               "EXECUTE_IN_PROGRESS": "it is being executed",
               "EXECUTE_FAILED": "its execution failed"}.get(execution, reason or "it is not ready")
        raise UsageError(f"change set {name} cannot be executed (status {status}, execution {execution}: {why}); "
                         f"{retry}")
    found, notes = differences(change_set, _template(cfn, plan.stack_name, name), plan)
    if found:
        raise UsageError(f"change set {name} no longer matches the local inputs: {'; '.join(found)}; nothing was "
                         f"executed and the change set is kept; {retry}")
    for note in notes:
        print(f"note: {note}")
    return change_set
