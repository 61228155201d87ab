"""The deployment history table: one item per deployment of an application to an environment.

Key: ``Target`` = ``<application>#<environment>``, ``DeployedAt`` = ``<UTC time>#<execution id>`` (newest
last). On-demand, point-in-time recovery, encrypted with the environment key, deletion-protected and
kept on delete; items expire by ``ExpiresAt`` (TTL). Writers get ``PutItem`` only.
"""
from __future__ import annotations

from awacs import dynamodb as ddb_actions
from awacs.aws import Condition, ForAnyValueStringEquals, StringEquals
from troposphere import GetAtt, Ref, Sub, dynamodb

from . import placement
from ..core.plain import plain
from ..core.suppress import Suppression, suppress
from .iam import allow, document
from .kms import ENCRYPT_DECRYPT_ACTIONS

PARTITION_KEY = "Target"
SORT_KEY = "DeployedAt"
TTL_ATTRIBUTE = "ExpiresAt"


class HistoryTableReference:
    def __init__(self, name, arn, key=None):
        self.name, self.arn, self.key = name, arn, key

    def grant_record(self):
        """Write one deployment record (and use the key through DynamoDB, as a customer managed key needs:
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html)."""
        grants = [allow([ddb_actions.PutItem], [self.arn])]
        if self.key is not None:
            grants.append(self.key.grant_encrypt_decrypt("dynamodb"))
        return grants


#: ``{project}-{tools}-<this>``: the table's name when a recorder of another account writes to it (it cannot
#: import the generated name; ``HistoryTable``).
TABLE_COMPONENT = "deployments"
NAME = "${ProjectName}-${EnvironmentName}-" + TABLE_COMPONENT
RECORD_ACTIONS = [ddb_actions.PutItem]


NAME_SUPPRESSION = Suppression(
    "Named {project}-{env}-deployments only when a recorder of another account or Region writes it: exports do not "
    "cross accounts or Regions, so those recorders and the table's own resource policy name it by ARN",
    guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
)


class RemoteHistoryTable(HistoryTableReference):
    """The tools table as a recorder in a wave's own account or Region sees it: by its ARN, built from the
    name (``TABLE_COMPONENT``) and ``placement.tools_location`` (no import: exports do not cross accounts or
    Regions). DynamoDB takes the table ARN wherever an API takes a table name, and a caller of another account
    must name it so ("table name overloading",
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-iam-actions.html). The key by its alias,
    as ``store.RemoteStore``: its ARN holds a key id the model cannot know."""

    def __init__(self, stack):
        tools = stack.model.tools
        self.account, self.region = placement.tools_location(stack, "the tools environment's deployment history")
        name = "${ProjectName}-%s-%s" % (tools, TABLE_COMPONENT)
        arn = Sub("arn:${AWS::Partition}:dynamodb:${Region}:${Account}:table/%s" % name,
                  Region=self.region, Account=self.account)
        self.alias = Sub("alias/${ProjectName}-%s" % tools)
        super().__init__(arn, arn, None)

    def grant_record(self):
        """``PutItem`` on the table, and the tools key through DynamoDB in the tools Region (the key's policy
        admits the role too: ``stacks.foundation``)."""
        key = Sub("arn:${AWS::Partition}:kms:${Region}:${Account}:key/*", Region=self.region, Account=self.account)
        return [allow(RECORD_ACTIONS, [self.arn]),
                allow(ENCRYPT_DECRYPT_ACTIONS, [key], condition=Condition([
                    ForAnyValueStringEquals({"kms:ResourceAliases": self.alias}),
                    StringEquals({"kms:ViaService": Sub("dynamodb.${Region}.amazonaws.com", Region=self.region)})]))]


def remote_recorders(model) -> bool:
    """Whether a recorder of another account or Region writes the table (it is then named, ``TABLE_COMPONENT``)."""
    return bool(placement.away_environments(model))


class HistoryTable(HistoryTableReference):
    def __init__(self, stack, logical_id, key):
        named = {}
        if stack.model is not None and remote_recorders(stack.model):
            named["TableName"] = Sub(NAME)
        self.table = stack.add(dynamodb.Table(
            logical_id, **named,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[dynamodb.AttributeDefinition(AttributeName=PARTITION_KEY, AttributeType="S"),
                                  dynamodb.AttributeDefinition(AttributeName=SORT_KEY, AttributeType="S")],
            KeySchema=[dynamodb.KeySchema(AttributeName=PARTITION_KEY, KeyType="HASH"),
                       dynamodb.KeySchema(AttributeName=SORT_KEY, KeyType="RANGE")],
            PointInTimeRecoverySpecification=dynamodb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True),
            SSESpecification=dynamodb.SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=key.arn),
            TimeToLiveSpecification=dynamodb.TimeToLiveSpecification(AttributeName=TTL_ATTRIBUTE, Enabled=True),
            DeletionProtectionEnabled=True,
            DeletionPolicy="Retain", UpdateReplacePolicy="Retain",
        ))
        super().__init__(Ref(self.table), GetAtt(self.table, "Arn"), key)
        if named:
            suppress(self.table, NAME_SUPPRESSION)
            self.admit_other_accounts(stack)

    def admit_other_accounts(self, stack):
        """Recorders of other accounts put their records: exactly their roles (the account root narrowed by
        ``aws:PrincipalArn``, ``placement.reader_statement``), ``PutItem`` only. Cross-account access needs this
        resource policy and the caller's IAM policy both, and a customer managed key (an AWS managed key cannot
        be shared): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-auth-iam-id-based-policies-DDB.html,
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-considerations.html. The policy
        names the table by its ARN (a table cannot ``GetAtt`` itself); it stays far below DynamoDB's 20 KB."""
        writers = placement.recorder_roles(stack.model)
        if not writers:
            return
        arn = Sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + NAME)
        statements = []
        for env, roles in writers:
            account = placement.account_id(stack, env)
            statements.append(placement.reader_statement(
                f"Allow{placement.label(env)}RecordersToRecord", account,
                [Sub("arn:${AWS::Partition}:iam::${Account}:role/" + role, Account=account) for role in roles],
                RECORD_ACTIONS, [arn]))
        self.table.ResourcePolicy = dynamodb.ResourcePolicy(
            PolicyDocument=plain(document(statements)))  # the property is typed dict
