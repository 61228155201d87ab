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
- Rollback triggers: CloudWatch alarm ARNs and a monitoring time from
  ``params/<env>/environment.json``, sent as RollbackConfiguration on CreateChangeSet
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
