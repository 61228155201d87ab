"""Protection for protected environments.

- Termination protection: turned on after the first successful create (and whenever it is
  found off).
- Stack policy: allows every update except ``Update:Replace`` and ``Update:Delete`` on the
  stateful logical ids of the template (``generator.stackmodel.stateful_resources``: the one
  stateful classification, by type or by a keeping DeletionPolicy). CreateChangeSet/ExecuteChangeSet take no stack
  policy, so it is set with SetStackPolicy: before executing an update (so it guards that
  update) and right after a create. With ``--allow-replacement`` an allow-all policy is set
  for the duration of the update and the guarding policy is restored afterwards.
  Statements from the parameter file's ``StackPolicy`` come first; Deny always wins.
- Protection is a state, verified every time: a deploy that finds no changes still reads the
  stack's termination protection (DescribeStacks) and stack policy (GetStackPolicy) and repairs
  what is missing or different (:func:`verify`), so a denied SetStackPolicy, a console change or an
  interrupted ``--allow-replacement`` update does not leave the stack unprotected unnoticed. A
  repair that AWS refuses is reported and the deploy exits 1.
- Rollback triggers: CloudWatch alarm ARNs and a monitoring time from
  the environment's entry in ``delivery.yaml``, sent as RollbackConfiguration on CreateChangeSet
  (see ``changeset.create``).
"""
from __future__ import annotations

import json


def stack_policy(plan) -> dict:
    statements = list((plan.params.stack_policy or {}).get("Statement", []))
    statements.append({"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"})
    stateful = sorted(plan.stateful)
    if stateful:
        statements.append({
            "Effect": "Deny",
            "Action": ["Update:Replace", "Update:Delete"],
            "Principal": "*",
            "Resource": [f"LogicalResourceId/{logical_id}" for logical_id in stateful],
        })
    return {"Statement": statements}


ALLOW_ALL = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]}


def set_policy(cfn, stack_name: str, policy: dict) -> None:
    cfn.set_stack_policy(StackName=stack_name, StackPolicyBody=json.dumps(policy, sort_keys=True))


def enable_termination_protection(cfn, stack_name: str) -> None:
    cfn.update_termination_protection(StackName=stack_name, EnableTerminationProtection=True)


def get_policy(cfn, stack_name: str):
    """The stack's policy as a dict, None when it has none (or its body is not JSON: treated as wrong)."""
    body = cfn.get_stack_policy(StackName=stack_name).get("StackPolicyBody")
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return {"unparsable": body}


def describe_guard(plan) -> str:
    return f"Update:Replace/Update:Delete denied on {', '.join(sorted(plan.stateful)) or 'no stateful resources'}"


class ProtectionError(Exception):
    """A protection step AWS refused; ``str()`` names what is left unprotected and the fix."""


def verify(cfn, plan, stack: dict, repair: bool = True) -> list:
    """Check a protected stack's termination protection and stack policy and, with ``repair``,
    set what is missing or different. Returns one line per finding (``repaired: ...`` or
    ``missing: ...`` without ``repair``); raises :class:`ProtectionError` when AWS refuses a
    check or a repair (every step is attempted first, so all failures are named)."""
    from .errors import one_line

    done, failed = [], []
    name = plan.stack_name
    if not stack.get("EnableTerminationProtection"):
        if not repair:
            done.append("missing: termination protection is off")
        else:
            try:
                enable_termination_protection(cfn, name)
                done.append("repaired: termination protection was off; enabled it")
            except Exception as err:  # botocore ClientError / BotoCoreError
                failed.append(f"termination protection is off and could not be enabled ({one_line(err)})")
    guard = stack_policy(plan)
    try:
        current = get_policy(cfn, name)
    except Exception as err:
        current = guard  # unknown: not repaired blindly, reported as a failure
        failed.append(f"the stack policy could not be read ({one_line(err)})")
    if current != guard:
        what = "missing" if current is None else "different from the guarding policy"
        if not repair:
            done.append(f"missing: the stack policy is {what}")
        else:
            try:
                set_policy(cfn, name, guard)
                done.append(f"repaired: the stack policy was {what}; set it ({describe_guard(plan)})")
            except Exception as err:
                failed.append(f"the stack policy is {what} and could not be set ({one_line(err)})")
    if failed:
        raise ProtectionError(
            f"protection of {name} not repaired: {'; '.join(failed)}; the stack is NOT fully protected "
            f"(grant cloudformation:UpdateTerminationProtection, GetStackPolicy and SetStackPolicy, then deploy "
            f"again: a deploy with no changes repairs it)")
    return done
