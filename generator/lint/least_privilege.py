"""Least privilege, proven from IAM data: every policy, trust policy and resource policy of a
template checked against policy_sentry's IAM database (bundled with the package; works offline).

- every action exists in the IAM database;
- Allow statements use no wildcard action (``s3:*``, ``s3:Get*``), no NotAction/NotResource;
- ``Resource: "*"`` in an Allow statement only for actions that support no resource-level
  permission, as policy_sentry's database says (no hand-kept list). In a KMS key policy ``"*"``
  means "this key" and is the only form KMS accepts, so key policies are exempt from this one;
- ``iam:PassRole`` never on ``*`` and always with an ``iam:PassedToService`` condition;
- ``Principal: "*"`` only in a Deny or with a condition;
- trust policies: one principal per statement; a service principal is one the project's trust
  table knows (``generator.components.iam.TRUST_CONDITION_KEYS``, one source of truth with the
  generator and rule E9112); it carries a confused-deputy condition (``aws:SourceAccount`` /
  ``aws:SourceArn``) exactly where the table says the service sends those keys, and never a key the
  service does not send (the role would be unassumable); an AWS principal is a role of this account, or another account's root (from a
  parameter) narrowed to its role ARNs by ``aws:PrincipalArn``;
- ``ManagedPolicyArns``: an AWS managed policy is expanded from IAM data (the AWS managed policy
  documents moto ships, already installed for the tests; offline) and held to the same rules; an
  admin-class one (``AdministratorAccess``, ``PowerUserAccess``, ``IAMFullAccess``, ``*FullAccess``,
  ``AdministratorAccess-*``, or any policy allowing ``*``, ``iam:*`` or ``iam:PassRole`` on ``*``)
  is one finding naming template, resource and policy; a policy the data does not know (a customer
  managed policy, or an AWS one newer than the data) cannot be verified and is a finding unless the
  resource declares a ``Suppression(least_privilege=("IAM_UNVERIFIABLE_MANAGED_POLICY",))``.

Deny statements may use wildcards: a deny must be exhaustive.
"""
from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path

from ..components.iam import TRUST_CONDITION_KEYS

#: Rule id a resource may suppress (with a reason) for a managed policy the IAM data cannot expand.
UNVERIFIABLE_RULE = "IAM_UNVERIFIABLE_MANAGED_POLICY"
#: The confused-deputy keys a service sends (or not) per the trust table.
SOURCE_KEYS = {"aws:sourcearn": "source_arn", "aws:sourceaccount": "source_account"}
#: AWS managed policies that are admin-class by name (AWS: "grants account administrative permissions" etc.).
ADMIN_NAMES = re.compile(r"^(AdministratorAccess(-.*)?|PowerUserAccess|IAMFullAccess|.*FullAccess(V\d+)?)$")
AWS_MANAGED_ARN = re.compile(r"^arn:(?:\$\{AWS::Partition\}|aws(?:-[a-z]+)*):iam::aws:policy(/(?:.*/)?)([^/]+)$")
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

    service, _, name = action.partition(":")
    try:
        return bool(remove_actions_that_are_not_wildcard_arn_only([f"{service.lower()}:{name}"]))
    except KeyError:  # a service policy_sentry does not know: action_exists reports it
        return False


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


_ROOT_ARN = re.compile(r"^arn:\$\{AWS::Partition\}:iam::(\$\{[A-Za-z0-9:]+\}):root$")
_ROLE_PATTERN = re.compile(r"^arn:\$\{AWS::Partition\}:iam::(\$\{[A-Za-z0-9:]+\}):role/\S+$")


def _narrowed_account(value, statement) -> bool:
    """Another account (an id from a parameter, never a literal) as principal, narrowed by an
    ``ArnLike``/``ArnEquals`` ``aws:PrincipalArn`` condition on role ARNs of that same account: how a
    target account trusts the tools pipelines' roles before they exist (bootstrap stack; IAM resolves a
    role ARN named as Principal when the policy is saved, so the role must exist then:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles)."""
    text = as_list(value.get("Fn::Sub"))[0] if isinstance(value, dict) and "Fn::Sub" in value else None
    root = _ROOT_ARN.match(text) if isinstance(text, str) else None
    if root is None:
        return False
    account = root.group(1)
    condition = statement.get("Condition") or {}
    for operator in ("ArnLike", "ArnEquals"):
        for key, patterns in (condition.get(operator) or {}).items():
            if key.lower() != "aws:principalarn":
                continue
            texts = [as_list(p.get("Fn::Sub"))[0] if isinstance(p, dict) and "Fn::Sub" in p else p
                     for p in as_list(patterns)]
            matches = [_ROLE_PATTERN.match(t) if isinstance(t, str) else None for t in texts]
            if matches and all(m is not None and m.group(1) == account for m in matches):
                return True
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
                problems += _check_service_trust(where, value, conditions)
            elif kind_ == "AWS":
                if not (_same_account_role(value, template) or _narrowed_account(value, statement)):
                    problems.append(f"{where}: trusted AWS principal {value} is not a role of this account, nor "
                                    f"an account root narrowed to role ARNs by aws:PrincipalArn")
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


def _check_service_trust(where: str, value, conditions: set) -> list:
    """A service principal's trust carries the confused-deputy keys the trust table says the
    service sends (at least one of them), and none it does not send."""
    service = value if isinstance(value, str) else str(value)
    keys = TRUST_CONDITION_KEYS.get(service) if isinstance(value, str) else None
    if keys is None:
        return [f"{where}: service principal {service} is not in the trust table "
                f"(generator.components.iam.TRUST_CONDITION_KEYS); look up which confused-deputy keys it sends"]
    problems = []
    for key, attribute in SOURCE_KEYS.items():
        if key in conditions and not getattr(keys, attribute):
            shown = {"aws:sourcearn": "aws:SourceArn", "aws:sourceaccount": "aws:SourceAccount"}[key]
            problems.append(f"{where}: trust of {service} conditions on {shown}, "
                            f"which {service} does not send ({keys.doc}): the role cannot be assumed")
    if keys.sends_any and not (conditions & set(SOURCE_KEYS)):
        problems.append(f"{where}: trust of {service} has no aws:SourceAccount/aws:SourceArn condition "
                        f"(confused-deputy protection; {service} sends them: {keys.doc})")
    return problems


# -- managed policies -------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def aws_managed_policies() -> dict:
    """``{name: {"Path": ..., "Document": ...}}``: the AWS managed policy documents moto ships
    (``moto/iam/aws_managed_policies.py``), read without importing moto (offline, fast)."""
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("moto is not installed: the AWS managed policy data comes from moto's "
                           "moto/iam/aws_managed_policies.py (install the test dependencies)")
    path = Path(list(spec.submodule_search_locations)[0]) / "iam" / "aws_managed_policies.py"
    namespace: dict = {}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)  # a module of one JSON string
    return json.loads(namespace["aws_managed_policies_data"])


def _arn_text(value):
    """The ARN text of a ``ManagedPolicyArns`` item (a string or a ``Fn::Sub`` without variables map)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        if isinstance(text, list):
            text = text[0] if text and not (len(text) > 1 and text[1]) else None
        return text if isinstance(text, str) else None
    return None


def managed_policy(value, template: dict):
    """``(kind, name, document)`` of one ``ManagedPolicyArns`` item: kind ``aws`` (document from the
    IAM data, None when the data does not know it), ``template`` (an AWS::IAM::ManagedPolicy of this
    template, judged as its own resource) or ``unknown`` (customer managed, parameter, import)."""
    resources = template.get("Resources") or {}
    if isinstance(value, dict) and "Ref" in value and \
            (resources.get(value["Ref"]) or {}).get("Type") == "AWS::IAM::ManagedPolicy":
        return "template", value["Ref"], None
    text = _arn_text(value)
    match = AWS_MANAGED_ARN.match(text) if text else None
    if not match:
        return "unknown", text or json.dumps(value, sort_keys=True), None
    path, name = match.groups()
    data = aws_managed_policies().get(name)
    if data is None or data.get("Path", "/") != path:
        return "aws", (path + name).lstrip("/"), None
    return "aws", (path + name).lstrip("/"), data.get("Document")


def admin_class(name: str, document) -> str:
    """Why an AWS managed policy is admin-class, or ``""``."""
    short = name.rsplit("/", 1)[-1]
    if ADMIN_NAMES.match(short):
        return f"{short} is an administrator/full-access policy by name"
    for statement in as_list((document or {}).get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [a.lower() for a in as_list(statement.get("Action")) if isinstance(a, str)]
        resources = as_list(statement.get("Resource"))
        if "NotAction" in statement:
            return "it allows everything but a list (NotAction)"
        if "*" in actions:
            return "it allows every action (\"*\")"
        if "iam:*" in actions:
            return "it allows iam:*"
        if "*" in resources and any(a in ("iam:passrole", "iam:pass*", "iam:p*") for a in actions):
            return "it allows iam:PassRole on \"*\""
    return ""


def _suppressed(resource: dict, rule: str, template: dict = None) -> bool:
    from .suppressions import resource_declarations

    for item in resource_declarations(template or {}, resource):
        if isinstance(item, dict) and rule in (item.get("least-privilege") or []) and \
                len(str(item.get("reason") or "").strip()) >= 20:
            return True
    return False


def check_managed_policies(name: str, template: dict) -> list:
    """Findings for every ``ManagedPolicyArns`` item of every identity resource of ``template``."""
    problems = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") not in IDENTITY_TYPES:
            continue
        props = resource.get("Properties") or {}
        for value in as_list(props.get("ManagedPolicyArns") if isinstance(props, dict) else None):
            kind, policy, document = managed_policy(value, template)
            where = f"{name}: {logical_id} ManagedPolicyArns {policy}"
            if kind == "template":
                continue  # an AWS::IAM::ManagedPolicy of this template: its PolicyDocument is checked itself
            if document is None:
                if not _suppressed(resource, UNVERIFIABLE_RULE, template):
                    what = "AWS managed policy unknown to the IAM data" if kind == "aws" else "not an AWS managed policy"
                    problems.append(f"{where}: cannot verify ({what}); replace it with an inline policy, or declare "
                                    f"Suppression(reason, least_privilege=(\"{UNVERIFIABLE_RULE}\",))")
                continue
            why = admin_class(policy, document)
            if why:
                problems.append(f"{where}: admin-class AWS managed policy ({why}); replace it with a scoped policy")
                continue
            for index, statement in enumerate(as_list(document.get("Statement"))):
                if isinstance(statement, dict):
                    sid = f" ({statement['Sid']})" if statement.get("Sid") else ""
                    problems += check_statement(f"{where} statement {index}{sid}", "identity", statement, template)
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
    return problems + check_managed_policies(name, template)
