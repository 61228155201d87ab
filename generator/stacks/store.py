"""``<app>-store`` (tools): one pipeline's artifact store, in a stack of its own.

A store per application keeps the shared ``artifacts`` stack constant in size however many
applications the model has (it held one store per pipeline and crossed its budget at ~8, its
200-outputs limit at 100), and sits below every other stack of the pipeline: the build,
validation, roles and pipeline stacks import it, it imports only foundation and the scanners.

Who may do what with the objects:

- write: DENIED to every principal but this pipeline's roles (``aws:PrincipalArn`` pattern
  ``{project}-{env}-<component>-*``), whatever their own policies allow;
- read by the shared scanners (``scanners``), which run on every pipeline's input artifacts: this
  bucket policy names their roles (imported ARNs), so their identity policies list no store. Within
  one account an Allow in the resource policy alone suffices ("If either the identity-based policy
  or the resource-based policy within the same account allows the request ..., the request is still
  allowed", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html).
  The principal must be the role itself, not the account (an account principal only delegates to
  IAM policies), and S3 rejects a policy naming a role that does not exist: the scanner stacks
  deploy first (this stack imports their exports). The objects are encrypted under the tools key;
  the scanner roles hold ``kms:Decrypt`` on it once (via S3 only).
"""
from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import Allow, ArnNotLike, AWSPrincipal, Condition, Deny, Statement
from troposphere import Ref, Sub

from ..components import placement
from ..components.iam import ANYONE
from ..components.kms import KeyReference
from ..components.s3 import BUCKET_READ_ACTIONS, READ_ACTIONS, BucketReference, SecureBucket, lifecycle_rules
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation


class EXPORTS(ExportSet):
    stack = "store"
    bucket_name = declare(stack, "ArtifactBucketName", "Artifact store of the application's pipeline")
    bucket_arn = declare(stack, "ArtifactBucketArn", "ARN of the artifact store of the application's pipeline")


def stack_name(application: str) -> str:
    return f"{application}-store"


def artifact_store(stack: str) -> BucketReference:
    """The artifact bucket of store stack ``stack`` as seen from another tools stack."""
    x = EXPORTS.for_stack(stack)
    return BucketReference(x.bucket_name.imported(), x.bucket_arn.imported(),
                           KeyReference(foundation.EXPORTS.key_arn.imported()))


class RemoteStore(BucketReference):
    """The tools artifact stores as a stack in a wave's own account sees them: exports do not cross
    accounts, so by name pattern (``{project}-{tools}-*``, the store stacks' generated bucket names start
    with the stack name) and the tools key by its alias (its ARN holds a key id the model cannot know:
    https://docs.aws.amazon.com/kms/latest/developerguide/alias-authorization.html), in the account and
    the account of parameter ``ToolsAccountId`` (``bootstrap.tools_values``). Read only; the
    stores' bucket policies and the tools key's policy must name the reading role too."""

    def __init__(self, stack):
        tools = stack.model.tools
        if "ToolsAccountId" not in stack.template.parameters:
            stack.parameter("ToolsAccountId", "Tools account", "Tools account id", Type="String",
                            AllowedPattern=r"^[0-9]{12}$", ConstraintDescription="a 12-digit AWS account id",
                            Description="Account of the tools environment (its pipelines and artifact stores)")
        self.alias = Sub("alias/${ProjectName}-%s" % tools)
        # The store a wave's actions read is in the wave's Region (the tools store, or the Region's own).
        self.key_arn = Sub("arn:${AWS::Partition}:kms:${AWS::Region}:${ToolsAccountId}:key/*")
        super().__init__(Sub("${ProjectName}-%s-*" % tools), Sub("arn:${AWS::Partition}:s3:::${ProjectName}-%s-*" % tools))

    def grant_read(self, prefix: str = "*"):
        from awacs.aws import Condition, ForAnyValueStringEquals, StringEquals

        from ..components.iam import allow
        from ..components.kms import DECRYPT_ACTIONS

        return [
            allow(READ_ACTIONS, [self.objects(prefix)]),
            allow(BUCKET_READ_ACTIONS, [self.arn]),
            allow(DECRYPT_ACTIONS, [self.key_arn], condition=Condition([
                ForAnyValueStringEquals({"kms:ResourceAliases": self.alias}),
                StringEquals({"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")})])),
        ]

    def grant_write(self, prefix: str = "*"):
        raise ValueError("a stack in a wave's account reads the tools artifact stores, never writes them")


def remote_store(stack) -> RemoteStore:
    return RemoteStore(stack)


def role_arn_pattern(component: str) -> Sub:
    """Every role of pipeline ``component`` (pipeline, action, build and trigger roles)."""
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ProjectName}-${EnvironmentName}-%s-*" % component)


class StoreStack(Stack):
    name = "store"
    description = "Artifact store of one pipeline: only its roles write, the shared scanners read (tools environment)"
    #: Set per application: the pipeline component (its roles' name prefix) and the role ARN exports
    #: (``CrossStackValue``) of the shared scanners that read this pipeline's input artifacts.
    component = None
    readers = ()

    @classmethod
    def model_values(cls, env: str) -> dict:
        return placement.model_values(cls.model, cls.app.waves)

    def admit_other_accounts(self):
        """Waves in another account (same Region) read their input artifacts from this store with their
        bootstrap deploy role and their validation project's role: exactly those roles, named
        (``placement.reader_statement``); the tools key's policy admits them too (``foundation``)."""
        for env, account, roles in placement.artifact_readers(self, {self.app.name: self.component}):
            label = placement.label(env)
            self.store.add_policy_statement(placement.reader_statement(
                f"Allow{label}RolesToReadArtifacts", account, roles, READ_ACTIONS, [self.store.objects()]))
            self.store.add_policy_statement(placement.reader_statement(
                f"Allow{label}RolesToLocateTheStore", account, roles, BUCKET_READ_ACTIONS, [self.store.arn]))

    def create(self):
        self.artifact_retention = self.parameter(
            "ArtifactRetentionDays", "Retention", "Artifact retention (days)",
            Type="Number", Default=30, MinValue=1, MaxValue=3650,
            Description="Days before pipeline artifacts expire",
        )
        self.noncurrent_retention = self.parameter(
            "NoncurrentVersionRetentionDays", "Retention", "Old version retention (days)",
            Type="Number", Default=30, MinValue=1, MaxValue=3650,
            Description="Days S3 keeps overwritten or deleted object versions",
        )
        # No BucketName: with the application's name it could pass S3's 63 characters; CloudFormation
        # names it after the stack and the logical id, and the name is exported.
        self.store = SecureBucket(
            self, "ArtifactBucket", None,
            lifecycle=lifecycle_rules(expire_days=Ref(self.artifact_retention),
                                      noncurrent_days=Ref(self.noncurrent_retention)),
            key=KeyReference(foundation.EXPORTS.key_arn.imported()),
            access_logs=BucketReference(foundation.EXPORTS.access_log_bucket.imported()),
            log_prefix=f"s3/{self.component}-artifacts/",
        )
        self.store.add_policy_statement(Statement(
            Sid="DenyWritesByOtherThanThisPipelinesRoles", Effect=Deny, Principal=ANYONE,
            Action=[s3_actions.PutObject], Resource=[self.store.objects()],
            Condition=Condition(ArnNotLike({"aws:PrincipalArn": role_arn_pattern(self.component)})),
        ))
        if self.readers:
            scanners = AWSPrincipal([reader.imported() for reader in self.readers])
            self.store.add_policy_statement(Statement(
                Sid="AllowSharedScannersToReadInputArtifacts", Effect=Allow, Principal=scanners,
                Action=list(READ_ACTIONS), Resource=[self.store.objects()],
            ))
            self.store.add_policy_statement(Statement(
                Sid="AllowSharedScannersToLocateTheStore", Effect=Allow, Principal=scanners,
                Action=list(BUCKET_READ_ACTIONS), Resource=[self.store.arn],
            ))
        self.admit_other_accounts()
        x = EXPORTS.for_stack(self.name)
        self.export(x.bucket_name, self.store.name)
        self.export(x.bucket_arn, self.store.arn)
