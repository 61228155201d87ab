"""IAM roles assembled from the grants other components hand out.

Every statement is an awacs ``Statement`` with typed actions. A role keeps its
resource-scoped statements and its ``Resource: "*"`` statements (actions with no
resource-level permission) in two separate ``AWS::IAM::Policy`` resources, so
cfn-lint's statement/resource check sees every scoped statement and a reviewer
sees every unscoped one in one place.
"""
from __future__ import annotations

import json

from awacs import iam as iam_actions
from awacs import sts
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, encode_to_dict, iam

from ..core import naming
from ..core.suppress import Suppression, suppress

POLICY_VERSION = "2012-10-17"

#: Every role is named ``{project}-{env}-{component}`` (Guard's CFN_NO_EXPLICIT_RESOURCE_NAMES flags it).
ROLE_NAME_SUPPRESSION = Suppression(
    "Named {project}-{env}-{component}: ECR, KMS, bucket and PassRole grants in other stacks match roles by ARN pattern",
    guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
)
#: The role's ``Resource: "*"`` policy holds only statements built by :func:`unscoped`.
UNSCOPED_POLICY_SUPPRESSION = Suppression(
    "Only actions without resource-level permissions (iam.unscoped; checked by the least-privilege gate)",
    guard=("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",),
)


def document(statements) -> PolicyDocument:
    return PolicyDocument(Version=POLICY_VERSION, Statement=list(statements))


def allow(actions, resources, condition=None, sid=None) -> Statement:
    kwargs = {"Effect": Allow, "Action": list(actions), "Resource": list(resources)}
    if condition is not None:
        kwargs["Condition"] = condition
    if sid:
        kwargs["Sid"] = sid
    return Statement(**kwargs)


def unscoped(actions, why: str, condition=None) -> Statement:
    """``Resource: "*"`` for actions that support no resource-level permission.

    ``why`` is mandatory and goes into the statement id, so the reason travels
    with the template (the IAM test checks the actions against IAM data).
    """
    if not why:
        raise ValueError("Resource '*' needs a reason")
    sid = "".join(part.capitalize() for part in why.replace("-", " ").split())[:100]
    return allow(actions, ["*"], condition=condition, sid=sid)


def pass_role(role_arns, service: str) -> Statement:
    """``iam:PassRole`` on ``role_arns``, to ``service`` only (never on ``*``, never unconditioned)."""
    return allow(
        [iam_actions.PassRole], list(role_arns),
        condition=Condition(StringEquals({"iam:PassedToService": service})),
    )


def is_unscoped(statement: Statement) -> bool:
    return statement.properties.get("Resource") == ["*"]


class Role:
    """A service role: one trusted service principal, confused-deputy conditions, grants."""

    def __init__(self, stack, logical_id, service, component, source_arn=None,
                 source_account=True, managed_policy_arns=None, description=None, trust_conditions=None):
        """``trust_conditions``: extra ``{ConditionClass: {key: value}}`` for the trust policy
        (for example ``sts:ExternalId`` where a service documents it instead of ``aws:SourceAccount``)."""
        self.stack = stack
        self.logical_id = logical_id
        self._statements: list = []
        conditions = {}
        if source_account:
            conditions[StringEquals] = {"aws:SourceAccount": Ref("AWS::AccountId")}
        if source_arn is not None:
            conditions[ArnLike] = {"aws:SourceArn": source_arn}
        for cls, values in (trust_conditions or {}).items():
            conditions.setdefault(cls, {}).update(values)
        trust = Statement(
            Effect=Allow,
            # ``service``: a service principal name, or an awacs Principal (a role that assumes this one).
            Principal=service if isinstance(service, Principal) else Principal("Service", service),
            Action=[sts.AssumeRole],
        )
        if conditions:
            trust.Condition = Condition([cls(values) for cls, values in conditions.items()])
        props = {
            "RoleName": naming.physical_name(component),
            "AssumeRolePolicyDocument": document([trust]),
            "Description": description or f"{component} service role",
            "MaxSessionDuration": 3600,
        }
        if managed_policy_arns:
            props["ManagedPolicyArns"] = list(managed_policy_arns)
        self.role = stack.add(iam.Role(logical_id, **props))
        suppress(self.role, ROLE_NAME_SUPPRESSION)
        self.arn = GetAtt(self.role, "Arn")
        self.name = Ref(self.role)
        stack.on_finalize(self._write_policies)

    def grant(self, *statements):
        """Add statements (flattening lists returned by components' grant helpers)."""
        for statement in statements:
            if isinstance(statement, (list, tuple)):
                self.grant(*statement)
            elif statement is not None:
                self._statements.append(statement)
        return self

    def _unique_statements(self):
        """Grants in order, merged: statements that differ only in ``Resource`` become one
        statement listing each resource once (components' grants overlap, e.g. on the key)."""
        merged: dict = {}
        for statement in self._statements:
            props = dict(statement.properties)
            resources = props.pop("Resource", [])
            fingerprint = json.dumps(encode_to_dict(props), sort_keys=True)
            _, known = merged.setdefault(fingerprint, (props, {}))
            for resource in resources:
                known.setdefault(json.dumps(encode_to_dict(resource), sort_keys=True), resource)
        return [Statement(Resource=list(resources.values()), **props) for props, resources in merged.values()]

    def _write_policies(self):
        statements = self._unique_statements()
        scoped = [s for s in statements if not is_unscoped(s)]
        wildcard = [s for s in statements if is_unscoped(s)]
        for suffix, statements in (("Policy", scoped), ("UnscopedPolicy", wildcard)):
            if statements:
                policy = self.stack.add(iam.PolicyType(
                    self.logical_id + suffix,
                    PolicyName=self.logical_id + suffix,  # policy names are per role
                    Roles=[Ref(self.role)],
                    PolicyDocument=document(statements),
                ))
                if statements is wildcard:
                    suppress(policy, UNSCOPED_POLICY_SUPPRESSION)


class InstanceProfile:
    def __init__(self, stack, logical_id, role: Role):
        self.profile = stack.add(iam.InstanceProfile(logical_id, Roles=[role.name]))
        self.name = Ref(self.profile)
        self.arn = GetAtt(self.profile, "Arn")


#: ``Principal: "*"`` — used only in Deny statements or with a condition (checked by the IAM tests).
ANYONE = Principal("*")
