"""``bootstrap-away``: what the tools pipelines' actions of a wave in this account or Region run with (issue 15).

A wave whose environment names another ``account`` or ``region`` than tools runs every action (deploy, smoke
test, recorder, stage conditions) under the environment's bootstrap deploy role (``components.placement``).
Those grants are per kind and grow with the kinds (Beanstalk's scoped deploy grants alone are ~7,500
characters), so they live here, apart from ``bootstrap``: as customer-managed policies attached to that role by
name, which IAM counts apart from the role's inline-policy aggregate, in a template of their own that keeps
``bootstrap`` (and the StackSet carrying its body) within the template budget whatever kinds a model mixes.

Deployed after ``bootstrap`` in each environment that hosts an away wave (it imports the role's ARN, so the
plan orders it), by the same administrator: the execution role may not touch ``*-bootstrap-*`` policies. One
template serves every such environment: it names ``${EnvironmentName}``'s resources of every application of
each kind with an away wave anywhere in the model.
"""
from __future__ import annotations

from awacs import kms, s3
from awacs.aws import Condition, ForAnyValueStringEquals
from troposphere import Select, Split, Sub, iam

from .. import execrole
from ..components import placement
from ..components.iam import UNSCOPED_POLICY_SUPPRESSION, allow, document, is_unscoped, merged
from ..core import naming
from ..core.stack import Stack
from ..core.suppress import suppress
from . import bootstrap


def _flat(statements) -> list:
    """Grant helpers return statements or lists of them."""
    found = []
    for statement in statements:
        found += _flat(statement) if isinstance(statement, (list, tuple)) else [statement]
    return found


def away_wave_grants(model) -> list:
    """What the actions of the waves in another account or Region than tools run with the bootstrap deploy role
    (``RoleArn``): each pipeline's deploy action, smoke test project and recorder, named after the environment
    (``{project}-${EnvironmentName}-*``: every application of the kind, so the template does not grow with the
    applications), and the regional store of a wave in another Region."""
    from .. import registry

    grants, kinds = [], set()
    for cls in registry.stacks(model):
        if getattr(cls, "part", None) != "pipeline" or cls.app is None or not cls.supports_away:
            continue  # a kind that cannot deploy away refuses such a wave when its pipeline renders
        kind = cls.__mro__[1]  # the kind's pipeline class (kinds makes one subclass per application)
        if kind not in kinds and any(placement.placement(model, env).away for env in cls.app.waves):
            kinds.add(kind)  # one set per kind, for its every application: the template stays one size
            grants += _flat(cls.away_grants("${EnvironmentName}", every_application=True))
    if placement.regional_environments(model):
        # A wave in another Region than tools reads its input artifacts from its own regional store
        # (stacks/regional_store.py): the bucket by name, its key by alias.
        grants += [
            allow([s3.GetObject, s3.GetObjectVersion], [Sub(
                "arn:${AWS::Partition}:s3:::${ProjectName}-${EnvironmentName}-%s-${AWS::AccountId}-${AWS::Region}/*"
                % placement.REGIONAL_STORE)]),
            allow([kms.Decrypt, kms.DescribeKey], [naming.arn("kms", "key/*")], condition=Condition(
                ForAnyValueStringEquals({"kms:ResourceAliases": Sub(
                    "alias/${ProjectName}-${EnvironmentName}-%s" % placement.REGIONAL_STORE)}))),
        ]
    return grants


class BootstrapAwayStack(Stack):
    name = "bootstrap-away"
    description = ("Target-account bootstrap, away waves: what the tools pipelines' actions of a wave in this "
                   "account or Region run with, attached to the bootstrap deploy role")
    #: Deployed by an administrator, like ``bootstrap`` (the execution role may not manage its policies).
    bootstrap = True
    untagged = True  # IAM managed policies take no tags

    def create(self):
        # The role by name (a managed policy attaches by name), from the ARN bootstrap exports: the import
        # makes this stack deploy after bootstrap.
        role = Select(1, Split(":role/", bootstrap.EXPORTS.deploy_role_arn.imported()))
        statements = merged(away_wave_grants(self.model))
        scoped = [s for s in statements if not is_unscoped(s)]
        for index, group in enumerate(execrole.split(scoped, bootstrap.MANAGED_POLICY_BUDGET), 1):
            self.add(iam.ManagedPolicy(
                f"AwayWavePolicy{index}", PolicyDocument=document(group), Roles=[role],
                Description=f"What the actions of waves in another account or Region run with, part {index}",
            ))
        unscoped = [s for s in statements if is_unscoped(s)]
        if unscoped:
            policy = self.add(iam.ManagedPolicy(
                "AwayWaveUnscopedPolicy", PolicyDocument=document(unscoped), Roles=[role],
                Description="Actions without resource-level permissions the away waves' actions call",
            ))
            suppress(policy, UNSCOPED_POLICY_SUPPRESSION)
