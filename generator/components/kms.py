"""Customer-managed KMS keys: rotation on, a key policy naming exactly who uses the key.

The account root administers the key (which also lets IAM policies in this
account grant use of it); AWS services that encrypt on our behalf are named one
by one with ``aws:SourceAccount``/``kms:ViaService``/encryption-context conditions.
"""
from __future__ import annotations

from awacs import kms as kms_actions
from awacs.aws import Allow, ArnLike, AWSPrincipal, Condition, Principal, Statement, StringEquals
from troposphere import GetAtt, If, Ref, Sub, kms

from ..core import naming
from .iam import allow, document

ADMIN_ACTIONS = [
    kms_actions.CreateAlias, kms_actions.CreateGrant, kms_actions.DeleteAlias, kms_actions.DescribeKey,
    kms_actions.DisableKey, kms_actions.DisableKeyRotation, kms_actions.EnableKey, kms_actions.EnableKeyRotation,
    kms_actions.GetKeyPolicy, kms_actions.GetKeyRotationStatus, kms_actions.ListGrants, kms_actions.ListKeyPolicies,
    kms_actions.ListKeyRotations, kms_actions.ListResourceTags, kms_actions.PutKeyPolicy, kms_actions.RetireGrant,
    kms_actions.RevokeGrant, kms_actions.RotateKeyOnDemand, kms_actions.ScheduleKeyDeletion,
    kms_actions.CancelKeyDeletion, kms_actions.TagResource, kms_actions.UntagResource, kms_actions.UpdateAlias,
    kms_actions.UpdateKeyDescription,
]
DECRYPT_ACTIONS = [kms_actions.Decrypt, kms_actions.DescribeKey]
ENCRYPT_DECRYPT_ACTIONS = [
    kms_actions.Decrypt, kms_actions.DescribeKey, kms_actions.Encrypt, kms_actions.GenerateDataKey,
    kms_actions.GenerateDataKeyWithoutPlaintext, kms_actions.ReEncryptFrom, kms_actions.ReEncryptTo,
]


def via_service(service: str) -> Condition:
    """Only when ``service`` (``s3``, ``sns``, ``ssm``...) calls KMS in this region for the caller."""
    return Condition(StringEquals({"kms:ViaService": Sub("%s.${AWS::Region}.amazonaws.com" % service)}))


class KeyReference:
    """A key known by its ARN (this stack's or imported); hands out least-privilege grants."""

    def __init__(self, arn):
        self.arn = arn

    def grant_decrypt(self, service: str = None):
        return allow(DECRYPT_ACTIONS, [self.arn], condition=via_service(service) if service else None)

    def grant_encrypt_decrypt(self, service: str = None):
        return allow(ENCRYPT_DECRYPT_ACTIONS, [self.arn], condition=via_service(service) if service else None)


class EncryptionKey(KeyReference):
    """A symmetric key with rotation, an alias ``alias/{project}-{env}`` and a built-up key policy."""

    def __init__(self, stack, logical_id="EncryptionKey", description="Encrypts this environment's data", alias=""):
        """``alias``: a suffix of the alias (``alias/{project}-{env}-<alias>``) for a second key of an environment."""
        self.stack = stack
        self._service_statements: list = []
        self._conditional: tuple = (None, [])
        self.key = stack.add(kms.Key(
            logical_id,
            Description=Sub("${ProjectName}-${EnvironmentName}: %s" % description),
            EnableKeyRotation=True,
            KeySpec="SYMMETRIC_DEFAULT",
            KeyUsage="ENCRYPT_DECRYPT",
            PendingWindowInDays=30,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        ))
        self.alias = stack.add(kms.Alias(
            logical_id + "Alias",
            AliasName=Sub("alias/${ProjectName}-${EnvironmentName}" + (f"-{alias}" if alias else "")),
            TargetKeyId=Ref(self.key),
        ))
        super().__init__(GetAtt(self.key, "Arn"))
        self.key_id = Ref(self.key)
        self.alias_name = Ref(self.alias)
        stack.on_finalize(self._write_policy)

    def allow_service(self, sid, service, actions, condition):
        """Let AWS service principal ``service`` use the key under ``condition`` (never unconditioned)."""
        if condition is None:
            raise ValueError(f"key policy statement {sid} for {service} needs a condition")
        self._service_statements.append(Statement(
            Sid=sid, Effect=Allow, Principal=Principal("Service", service),
            Action=list(actions), Resource=["*"], Condition=condition,
        ))

    def allow_cloudwatch_logs(self):
        """CloudWatch Logs encrypts log groups of this account and region only."""
        self.allow_service(
            "CloudWatchLogsEncryptLogGroups", Sub("logs.${AWS::Region}.amazonaws.com"),
            [kms_actions.Decrypt, kms_actions.DescribeKey, kms_actions.Encrypt, kms_actions.GenerateDataKey,
             kms_actions.ReEncryptFrom, kms_actions.ReEncryptTo],
            Condition(ArnLike({
                "kms:EncryptionContext:aws:logs:arn": naming.arn("logs", "log-group:*"),
            })),
        )

    def allow_sns_publishers(self, services):
        """Services publishing to topics encrypted with this key, only through SNS in this region."""
        for service in services:
            sid = "".join(p.capitalize() for p in service.split(".")[0].split("-")) + "PublishToEncryptedTopics"
            self.allow_service(sid, service, [kms_actions.Decrypt, kms_actions.GenerateDataKey], via_service("sns"))

    def allow(self, statements):
        """Add statements naming principals of other accounts (narrowed by conditions; never ``*``)."""
        self._service_statements.extend(statements)

    def allow_when(self, condition: str, statements):
        """Add ``statements`` (principals of other accounts, narrowed) only where template condition
        ``condition`` holds (the policy is written twice under ``Fn::If``; one condition per key)."""
        name, found = self._conditional
        if name not in (None, condition):
            raise ValueError(f"key policy statements already depend on condition {name}, not {condition}")
        self._conditional = (condition, found + list(statements))

    def _write_policy(self):
        # Resource "*" inside a key policy means "this key"; it is the only form KMS accepts.
        root = Statement(
            Sid="AccountAdministersKeyAndDelegatesUseToIam",
            Effect=Allow,
            Principal=AWSPrincipal(Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
            Action=ADMIN_ACTIONS + [a for a in ENCRYPT_DECRYPT_ACTIONS if a not in ADMIN_ACTIONS],
            Resource=["*"],
        )
        statements = [root] + self._service_statements
        condition, conditional = self._conditional
        if conditional:
            self.key.KeyPolicy = If(condition, document(statements + conditional), document(statements))
        else:
            self.key.KeyPolicy = document(statements)
