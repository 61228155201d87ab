"""``regional-store``: the artifact store of the waves in another Region than the tools pipelines (issue 15).

CodePipeline runs an action in another Region (``Region`` on the action) from an artifact store in that
Region, one per Region, each with its key, listed in the pipeline's ``ArtifactStores``
(https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-cross-region.html,
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codepipeline-pipeline-artifactstoremap.html).
This stack is that store, deployed in the wave's environment (its account and Region, like every stack of
it): a bucket ``{project}-{env}-regional-{account}-{region}`` (the pipeline knows it by that name) under a
key of its own (``alias/{project}-{env}-regional``).

- The tools pipelines' roles copy the artifacts in: the key and bucket policies name exactly those roles
  (the tools account root narrowed by ``aws:PrincipalArn``: they live in another account and may be
  created after this stack), and every other principal is denied writes.
- The wave's bootstrap deploy role and validation project read them: same account, their own policies
  grant it (the key policy lets IAM policies of this account grant use of the key).
- The pipeline names the key by ARN (an alias is refused for another account's key), which the model
  cannot know: copy this stack's ``KeyArn`` output into ``environments[<tools>].parameters.<Wave>ArtifactKeyArn``
  (docs/accounts.md).
"""
from __future__ import annotations

from awacs import s3 as s3_actions
from awacs.aws import ArnNotLike, Condition, Deny, Statement, StringEquals
from troposphere import AccountId, Equals, If, Ref, Sub

from ..components import placement
from ..components.iam import ANYONE
from ..components.kms import ENCRYPT_DECRYPT_ACTIONS, EncryptionKey
from ..components.s3 import BUCKET_READ_ACTIONS, READ_ACTIONS, WRITE_ACTIONS, BucketReference, SecureBucket, \
    lifecycle_rules
from ..core import naming
from ..core.exports import ExportSet, declare
from ..core.stack import Stack
from . import foundation
from .bootstrap import ACCOUNT_PATTERN, tools_values


class EXPORTS(ExportSet):
    stack = "regional-store"
    bucket_name = declare(stack, "BucketName", "Artifact store of the pipelines' actions in this Region")
    bucket_arn = declare(stack, "BucketArn", "ARN of the regional artifact store")
    key_arn = declare(stack, "KeyArn", "Key of the regional artifact store (environments[tools].parameters)")


def store() -> BucketReference:
    """The regional store as a stack of the same environment sees it (validation projects)."""
    from ..components.kms import KeyReference

    return BucketReference(EXPORTS.bucket_name.imported(), EXPORTS.bucket_arn.imported(),
                           KeyReference(EXPORTS.key_arn.imported()))


class RegionalStoreStack(Stack):
    name = "regional-store"
    description = ("Artifact store of the pipeline actions running in this environment's Region: the tools "
                   "pipelines copy artifacts in, this environment's deploy and validation roles read them")

    @classmethod
    def model_values(cls, env: str) -> dict:
        return tools_values(cls.model)

    def create(self):
        from .. import kinds

        retention = self.parameter(
            "ArtifactRetentionDays", "Retention", "Artifact retention (days)",
            Type="Number", Default=30, MinValue=1, MaxValue=3650, Description="Days before artifacts expire")
        tools_account = self.parameter(
            "ToolsAccountId", "Tools account", "Tools account id", Type="String", Default="",
            AllowedPattern=ACCOUNT_PATTERN, ConstraintDescription="a 12-digit AWS account id, or empty for this account",
            Description="Account of the tools pipelines that copy artifacts into this store (empty: this account)")
        self.condition("ToolsInThisAccount", Equals(Ref(tools_account), ""))
        account = If("ToolsInThisAccount", AccountId, Ref(tools_account))
        model = self.model
        pipelines = [Sub("arn:${AWS::Partition}:iam::${Account}:role/${ProjectName}-%s-%s-pipeline"
                         % (model.tools, kinds.pipeline_component(app.kind, app.name)), Account=account)
                     for app in model.applications
                     if any(placement.placement(model, env).cross_region for env in app.waves)]
        self.key = EncryptionKey(self, "StoreKey", "encrypts the pipelines' artifacts in this Region",
                                 alias=placement.REGIONAL_STORE)
        # Resource "*" in a key policy means this key; through S3 in this Region only.
        self.key.allow([placement.reader_statement(
            "AllowToolsPipelinesToEncryptArtifacts", account, pipelines, ENCRYPT_DECRYPT_ACTIONS, ["*"],
            condition=StringEquals({"kms:ViaService": Sub("s3.${AWS::Region}.amazonaws.com")}))])
        self.store = SecureBucket(
            self, "ArtifactBucket", naming.global_name(placement.REGIONAL_STORE),
            lifecycle=lifecycle_rules(expire_days=Ref(retention), noncurrent_days=Ref(retention)),
            key=self.key, access_logs=BucketReference(foundation.EXPORTS.access_log_bucket.imported()),
            log_prefix="s3/regional-artifacts/",
        )
        self.store.add_policy_statement(placement.reader_statement(
            "AllowToolsPipelinesToCopyArtifacts", account, pipelines, READ_ACTIONS + WRITE_ACTIONS,
            [self.store.objects()]))
        self.store.add_policy_statement(placement.reader_statement(
            "AllowToolsPipelinesToLocateTheStore", account, pipelines, BUCKET_READ_ACTIONS, [self.store.arn]))
        self.store.add_policy_statement(Statement(
            Sid="DenyWritesByOtherThanTheToolsPipelines", Effect=Deny, Principal=ANYONE,
            Action=[s3_actions.PutObject], Resource=[self.store.objects()],
            Condition=Condition(ArnNotLike({"aws:PrincipalArn": pipelines})),
        ))
        self.export(EXPORTS.bucket_name, self.store.name)
        self.export(EXPORTS.bucket_arn, self.store.arn)
        self.export(EXPORTS.key_arn, self.key.arn)
