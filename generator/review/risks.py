"""Risk flags: stateful resources (``data-loss``), access changes (``iam-broadening`` /
``iam-narrowing``), network exposure (``network-exposure``) and log retention (``retention-reduced``).
``export-in-use`` (an export another stack imports would change) needs the deployed stack and
ListImports: :mod:`.in_use`.

Access is compared grant by grant. Every policy document a resource carries (identity
policies, trust policies, key/bucket/topic/queue/repository policies, Lambda permissions) is
expanded into atoms ``(document, effect, principal, action, resource, conditions)``, and every
security-group rule into ``(group, direction, protocol, ports, peer)``. A new Allow atom that no
old atom covers (same or wider principal/action/resource by IAM wildcard matching, and no more
conditions) broadens access; an old one that no new atom covers narrows it. Removing a Deny or
a condition broadens; adding one narrows. Statement order, ``Action: x`` vs ``[x]`` and
the case of action names do not matter.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ..stackmodel import STATEFUL_TYPES, is_stateful, is_stateful_resource  # noqa: F401  (one list, re-exported)
from .values import is_intrinsic, normal, show

DATA_LOSS = "data-loss"
IAM_BROADENING = "iam-broadening"
IAM_NARROWING = "iam-narrowing"
NETWORK_EXPOSURE = "network-exposure"
RETENTION_REDUCED = "retention-reduced"
PARAMETER = "parameter"
OUTPUT = "output"
EXPORT_IN_USE = "export-in-use"
RENAME = "rename"
#: Every flag, in the order reports list them.
FLAGS = (DATA_LOSS, IAM_BROADENING, IAM_NARROWING, NETWORK_EXPOSURE, RETENTION_REDUCED, PARAMETER, OUTPUT,
         EXPORT_IN_USE, RENAME)

#: Where each resource type keeps its policy documents: (property, kind).
#: kind "identity": statements apply to the principals the resource is attached to;
#: "resource"/"trust": statements name their principals.
POLICY_PROPERTIES = {
    "AWS::IAM::Policy": (("PolicyDocument", "identity"),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument", "identity"),),
    "AWS::IAM::RolePolicy": (("PolicyDocument", "identity"),),
    "AWS::IAM::UserPolicy": (("PolicyDocument", "identity"),),
    "AWS::IAM::GroupPolicy": (("PolicyDocument", "identity"),),
    "AWS::IAM::Role": (("AssumeRolePolicyDocument", "trust"),),
    "AWS::KMS::Key": (("KeyPolicy", "resource"),),
    "AWS::S3::BucketPolicy": (("PolicyDocument", "resource"),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument", "resource"),),
    "AWS::SNS::TopicInlinePolicy": (("PolicyDocument", "resource"),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument", "resource"),),
    "AWS::SQS::QueueInlinePolicy": (("PolicyDocument", "resource"),),
    "AWS::ECR::Repository": (("RepositoryPolicyText", "resource"),),
    "AWS::SecretsManager::ResourcePolicy": (("ResourcePolicy", "resource"),),
}
#: Types whose ``Policies`` (inline) and ``ManagedPolicyArns`` apply to the resource itself.
PRINCIPAL_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
DOCUMENT_NAMES = {"identity": "policy", "trust": "trust policy", "resource": "resource policy",
                  "managed": "managed policy", "lambda": "Lambda permission"}


@dataclass(frozen=True)
class Grant:
    doc: str
    effect: str
    principal: str
    action: str
    resource: str
    conditions: frozenset = frozenset()


@dataclass(frozen=True)
class Rule:
    group: str
    protocol: str
    low: object
    high: object
    source: str
    direction: str = "ingress"
    implicit: bool = field(default=False, compare=False)  # EC2's default egress rule, not declared


@dataclass(frozen=True)
class Finding:
    risk: str
    message: str


# -- policy documents ---------------------------------------------------------

def _items(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value) -> str:
    plain = normal(value)
    return plain if isinstance(plain, str) else show(plain)


def _principals(statement, fallback):
    if "NotPrincipal" in statement:
        return ["not " + _text(statement["NotPrincipal"])]
    if "Principal" not in statement:
        return list(fallback)
    principal = statement["Principal"]
    if principal == "*":
        return ["AWS:*"]
    if isinstance(principal, dict) and not is_intrinsic(principal):
        return [f"{kind}:{_text(v)}" for kind, values in principal.items() for v in _items(values)]
    return [_text(principal)]


def _conditions(condition) -> frozenset:
    out = set()
    if isinstance(condition, dict) and not is_intrinsic(condition):
        for operator, pairs in condition.items():
            if isinstance(pairs, dict):
                for name, values in pairs.items():
                    out.add((operator, name, tuple(sorted(_text(v) for v in _items(values)))))
            else:
                out.add((operator, _text(pairs), ()))
    elif condition is not None:
        out.add(("?", _text(condition), ()))
    return frozenset(out)


def statement_grants(document, doc: str, principals=("(attached)",)) -> list:
    if not isinstance(document, dict) or is_intrinsic(document):
        return [Grant(doc, "Allow", "(document)", _text(document), "*")] if document else []
    grants = []
    for statement in [s for item in _items(document.get("Statement")) for s in _branches(item)]:
        effect = str(statement.get("Effect", "Allow"))
        if "NotAction" in statement:
            actions = ["not " + ",".join(sorted(_text(a) for a in _items(statement["NotAction"])))]
        else:
            actions = [_text(a) for a in _items(statement.get("Action"))]
        if "NotResource" in statement:
            resources = ["not " + ",".join(sorted(_text(r) for r in _items(statement["NotResource"])))]
        else:
            resources = [_text(r) for r in _items(statement.get("Resource", "*"))]
        conditions = _conditions(statement.get("Condition"))
        for principal in _principals(statement, principals):
            for action in actions:
                for resource in resources:
                    grants.append(Grant(doc, effect, principal, action, resource, conditions))
    return grants


def grants(rtype: str, props: dict) -> list:
    """Every grant atom a resource of ``rtype`` with ``props`` carries."""
    props = props or {}
    found = []
    attached = ["(this resource)"]
    if rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        attached = [f"{kind[:-1].lower()}:{_text(x)}" for kind in ("Roles", "Users", "Groups")
                    for x in _items(props.get(kind))] or ["(not attached)"]
    elif rtype in ("AWS::IAM::RolePolicy", "AWS::IAM::UserPolicy", "AWS::IAM::GroupPolicy"):
        name_key = rtype.split("::")[-1].replace("Policy", "Name")
        attached = [f"{name_key[:-4].lower()}:{_text(props.get(name_key))}"]
    for prop, doc in POLICY_PROPERTIES.get(rtype, ()):
        if prop in props:
            found.extend(statement_grants(props[prop], doc, attached))
    if rtype in PRINCIPAL_TYPES:
        for policy in _items(props.get("Policies")):
            if isinstance(policy, dict):
                found.extend(statement_grants(policy.get("PolicyDocument"), "identity", attached))
        for arn in _items(props.get("ManagedPolicyArns")):
            found.append(Grant("managed", "Allow", attached[0], "(attached managed policy)", _text(arn)))
    if rtype == "AWS::Lambda::Permission":
        conditions = set()
        for prop, operator, name in (("SourceArn", "ArnLike", "aws:SourceArn"),
                                     ("SourceAccount", "StringEquals", "aws:SourceAccount"),
                                     ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID")):
            if prop in props:
                conditions.add((operator, name, (_text(props[prop]),)))
        found.append(Grant("lambda", "Allow", _text(props.get("Principal")), _text(props.get("Action")),
                           _text(props.get("FunctionName")), frozenset(conditions)))
    return found


def _matches(pattern: str, value: str) -> bool:
    pattern, value = pattern.lower(), value.lower()
    if pattern == value:
        return True
    if pattern.startswith("not ") or value.startswith("not "):
        return False
    if "*" in pattern or "?" in pattern:
        return fnmatchcase(value, pattern)
    return False


def _principal_covers(old: str, new: str) -> bool:
    if old == new:
        return True
    if ":" in old and ":" in new:
        okind, ovalue = old.split(":", 1)
        nkind, nvalue = new.split(":", 1)
        return okind == nkind and ovalue == "*"
    return False


def _covers(wide: Grant, narrow: Grant) -> bool:
    """``wide`` allows (or denies) at least what ``narrow`` does."""
    return (wide.doc == narrow.doc and wide.effect == narrow.effect
            and _principal_covers(wide.principal, narrow.principal)
            and _matches(wide.action, narrow.action)
            and _matches(wide.resource, narrow.resource)
            and wide.conditions <= narrow.conditions)


def _condition_text(conditions) -> str:
    return ", ".join(f"{op} {name}" + (f"={'|'.join(values)}" if values else "") for op, name, values in sorted(conditions))


def _explain(extra: Grant, others: list, more: bool) -> tuple:
    """Why ``extra`` is not covered by ``others``: (kind, value). ``more``: describing a gain."""
    same = [o for o in others if o.doc == extra.doc and o.effect == extra.effect]
    if extra.doc == "managed":
        return ("managed policy", extra.resource)
    if not same:
        return ("new", (extra.principal, extra.action, extra.resource, extra.conditions))
    exact = [o for o in same if (o.principal, o.action.lower(), o.resource) == (extra.principal, extra.action.lower(), extra.resource)]
    if exact:
        gone = set().union(*(o.conditions - extra.conditions for o in exact)) if more else \
            set().union(*(extra.conditions - o.conditions for o in exact))
        gone = gone or set(extra.conditions)
        return ("condition removed" if more else "condition added", _condition_text(gone) or "(condition)")
    if any(o.principal == extra.principal and o.resource == extra.resource for o in same):
        return ("action", extra.action)
    if any(o.principal == extra.principal and o.action.lower() == extra.action.lower() for o in same):
        return ("resource", extra.resource)
    if any(o.action.lower() == extra.action.lower() and o.resource == extra.resource for o in same):
        return ("principal", extra.principal)
    if not any(o.principal == extra.principal for o in same):
        return ("new", (extra.principal, extra.action, extra.resource, extra.conditions))
    return ("action", f"{extra.action} on {extra.resource}")


def _few(items, limit: int = 4) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


def _grant_findings(old: list, new: list) -> list:
    findings = []
    buckets = {}

    def note(risk, doc, effect, kind, value):
        buckets.setdefault((risk, doc, effect, kind), []).append(value)

    for effect, gain, loss in (("Allow", IAM_BROADENING, IAM_NARROWING), ("Deny", IAM_NARROWING, IAM_BROADENING)):
        old_e = [g for g in old if g.effect == effect]
        new_e = [g for g in new if g.effect == effect]
        for grant in dict.fromkeys(new_e):
            if not any(_covers(o, grant) for o in old_e):
                kind, value = _explain(grant, old_e, more=True)
                note(gain, grant.doc, effect, kind, value)
        for grant in dict.fromkeys(old_e):
            if not any(_covers(n, grant) for n in new_e):
                kind, value = _explain(grant, new_e, more=False)
                note(loss, grant.doc, effect, kind, value)
    for (risk, doc, effect, kind), values in buckets.items():
        if kind == "new":
            per = {}
            for principal, action, resource, conditions in values:
                entry = per.setdefault(principal, ({}, {}, {}))
                entry[0][action] = None
                entry[1][resource] = None
                entry[2][_condition_text(conditions) or "none"] = None
            verb = "added" if risk == (IAM_BROADENING if effect == "Allow" else IAM_NARROWING) else "removed"
            for principal, (actions, resources, conditions) in per.items():
                when = "" if list(conditions) == ["none"] else f" when {_few(conditions, 2)}"
                findings.append(Finding(risk, f"{DOCUMENT_NAMES[doc]} {effect} {verb} for {principal}: "
                                              f"{_few(actions)} on {_few(resources)}{when}"))
            continue
        values = list(dict.fromkeys(values))
        verb = "added" if risk == (IAM_BROADENING if effect == "Allow" else IAM_NARROWING) else "removed"
        if doc == "managed":
            findings.append(Finding(risk, f"managed polic{'ies' if len(values) > 1 else 'y'} "
                                          f"{'attached' if verb == 'added' else 'detached'}: {', '.join(values)}"))
            continue
        if kind.startswith("condition"):
            text = f"{kind}: {'; '.join(values)}"
        else:
            text = f"{kind}{'s' if len(values) > 1 else ''} {verb}: {', '.join(values)}"
        findings.append(Finding(risk, f"{DOCUMENT_NAMES[doc]} {effect}: {text}"))
    return findings


# -- security groups --------------------------------------------------------------

_PROTOCOLS = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}
#: Where a rule's peer is named, per direction: (property, kind).
_PEERS = {
    "ingress": (("CidrIp", "cidr"), ("CidrIpv6", "cidr"), ("SourceSecurityGroupId", "sg"),
                ("SourceSecurityGroupName", "sg"), ("SourcePrefixListId", "prefix-list")),
    "egress": (("CidrIp", "cidr"), ("CidrIpv6", "cidr"), ("DestinationSecurityGroupId", "sg"),
               ("DestinationPrefixListId", "prefix-list")),
}
WORLD = ("cidr 0.0.0.0/0", "cidr ::/0")
#: The rule EC2 gives a VPC security group while it declares no egress rule, and restores when
#: the last one is removed (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-securitygroup.html,
#: SecurityGroupEgress: "the default rule is removed only when you specify one or more egress rules").
DEFAULT_EGRESS = ("all", 0, 65535, "cidr 0.0.0.0/0")


def _port(value):
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return _text(value) if value is not None else None


def _rule(group: str, rule: dict, direction: str = "ingress") -> Rule:
    protocol = _text(rule.get("IpProtocol", "-1")).lower()
    protocol = _PROTOCOLS.get(protocol, protocol)
    low, high = _port(rule.get("FromPort")), _port(rule.get("ToPort"))
    if protocol == "all" or (low == -1 and high == -1) or (low is None and high is None):
        low, high = 0, 65535
    if high is None:
        high = low
    source = "(none)"
    for prop, kind in _PEERS[direction]:
        if prop in rule:
            source = f"{kind} {_text(rule[prop])}"
            break
    return Rule(group, protocol, low, high, source, direction)


def _branches(item):
    """A rule, or both branches of an ``Fn::If`` (either may apply), without ``AWS::NoValue``."""
    if isinstance(item, dict) and set(item) == {"Fn::If"} and isinstance(item["Fn::If"], list) and len(item["Fn::If"]) == 3:
        return [r for branch in item["Fn::If"][1:] for r in _branches(branch)]
    if isinstance(item, dict) and (not is_intrinsic(item)):
        return [item]
    return []


def rules(rtype: str, props: dict, implicit_egress: bool = True) -> list:
    """Every ingress and egress rule a resource declares. ``implicit_egress``: count the
    default allow-all egress rule of a VPC group that declares none (left out for a new group,
    where it is the ordinary default rather than a change)."""
    props = props or {}
    if rtype == "AWS::EC2::SecurityGroup":
        found = [_rule("(this group)", r) for item in _items(props.get("SecurityGroupIngress")) for r in _branches(item)]
        egress = [_rule("(this group)", r, "egress") for item in _items(props.get("SecurityGroupEgress")) for r in _branches(item)]
        if not egress and implicit_egress and "VpcId" in props and "SecurityGroupEgress" not in props:
            egress = [Rule("(this group)", *DEFAULT_EGRESS, "egress", implicit=True)]
        return found + egress
    for kind, direction in (("AWS::EC2::SecurityGroupIngress", "ingress"), ("AWS::EC2::SecurityGroupEgress", "egress")):
        if rtype == kind:
            group = _text(props.get("GroupId", props.get("GroupName")))
            return [_rule(group, props, direction)]
    return []


def _source_covers(old: str, new: str) -> bool:
    if old == new:
        return True
    if old.startswith("cidr ") and new.startswith("cidr "):
        try:
            wide, narrow = ipaddress.ip_network(old[5:], strict=False), ipaddress.ip_network(new[5:], strict=False)
        except ValueError:
            return False
        return wide.version == narrow.version and narrow.subnet_of(wide)
    return False


def _rule_covers(old: Rule, new: Rule) -> bool:
    if old.group != new.group or old.direction != new.direction or not _source_covers(old.source, new.source):
        return False
    if old.protocol != "all" and old.protocol != new.protocol:
        return False
    if all(isinstance(p, int) for p in (old.low, old.high, new.low, new.high)):
        return old.low <= new.low and new.high <= old.high
    return (old.low, old.high) == (new.low, new.high)


def _rule_text(rule: Rule) -> str:
    ports = "all ports" if (rule.low, rule.high) == (0, 65535) else \
        (f"port {rule.low}" if rule.low == rule.high else f"ports {rule.low}-{rule.high}")
    world = " (the whole internet)" if rule.source in WORLD else ""
    what = "all traffic" if rule.protocol == "all" and ports == "all ports" else f"{rule.protocol} {ports}"
    return f"{what} {'from' if rule.direction == 'ingress' else 'to'} {rule.source}{world}"


def _rule_findings(old: list, new: list) -> list:
    """A rule opened to the whole internet (either direction) is ``network-exposure``; another
    new ingress rule broadens access, a removed one narrows it. Egress to a narrower peer and
    closed egress rules are shown as values only."""
    findings = []
    for rule in dict.fromkeys(new):
        if not any(_rule_covers(o, rule) for o in old):
            if rule.source in WORLD:
                default = " (EC2's default rule, restored when no egress rule is declared)" if rule.implicit else ""
                findings.append(Finding(NETWORK_EXPOSURE, f"{rule.direction} opened: {_rule_text(rule)}{default}"))
            elif rule.direction == "ingress":
                findings.append(Finding(IAM_BROADENING, f"ingress opened: {_rule_text(rule)}"))
    for rule in dict.fromkeys(old):
        if rule.direction == "ingress" and not any(_rule_covers(n, rule) for n in new):
            findings.append(Finding(IAM_NARROWING, f"ingress closed: {_rule_text(rule)}"))
    return findings


# -- entry point --------------------------------------------------------------------

def _boundary_findings(rtype, old, new) -> list:
    if rtype not in ("AWS::IAM::Role", "AWS::IAM::User"):
        return []
    before, after = (old or {}).get("PermissionsBoundary"), (new or {}).get("PermissionsBoundary")
    if normal(before) == normal(after):
        return []
    if after is None:
        return [Finding(IAM_BROADENING, f"permissions boundary removed: {_text(before)}")]
    if before is None:
        return [Finding(IAM_NARROWING, f"permissions boundary added: {_text(after)}")]
    return [Finding(IAM_BROADENING, f"permissions boundary changed: {_text(before)} -> {_text(after)} (may allow more)")]


def _days(value):
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def retention_findings(rtype: str, old_props, new_props) -> list:
    """``retention-reduced``: a log group keeps its events for fewer days than before, so
    CloudWatch Logs deletes the older ones. No ``RetentionInDays`` means never expire: removing
    it lengthens retention; setting it where it was absent shortens it. A value that is still a
    reference (not resolved from the environment's parameters) is not judged."""
    if rtype != "AWS::Logs::LogGroup" or old_props is None or new_props is None:
        return []
    before, after = old_props.get("RetentionInDays"), new_props.get("RetentionInDays")
    if after is None:
        return []
    new_days = _days(after)
    if new_days is None:
        return []
    if before is None:
        return [Finding(RETENTION_REDUCED, f"retention set to {new_days} days (was never expire): "
                                           f"events older than {new_days} days are deleted")]
    old_days = _days(before)
    if old_days is not None and new_days < old_days:
        return [Finding(RETENTION_REDUCED, f"retention shortened from {old_days} to {new_days} days: "
                                           f"events older than {new_days} days are deleted")]
    return []


def access_findings(rtype: str, old_props, new_props) -> list:
    """IAM and network-access findings between two versions of one resource
    (``None`` for a resource that does not exist on that side)."""
    findings = _grant_findings(grants(rtype, old_props) if old_props is not None else [],
                               grants(rtype, new_props) if new_props is not None else [])
    findings += _rule_findings(rules(rtype, old_props) if old_props is not None else [],
                               rules(rtype, new_props, implicit_egress=old_props is not None)
                               if new_props is not None else [])
    findings += _boundary_findings(rtype, old_props, new_props)
    return findings


def parse_flags(text: str) -> list:
    """``"data-loss,iam-broadening"`` -> list; raises ValueError naming an unknown flag."""
    flags = [f.strip() for f in re.split(r"[,\s]+", text or "") if f.strip()]
    for flag in flags:
        if flag not in FLAGS:
            raise ValueError(f"unknown risk flag '{flag}' in --fail-on; use a comma-separated list of: {', '.join(FLAGS)}")
    return flags
