"""The deployment history table: one item per deployment of an application to an environment.

Key: ``Target`` = ``<application>#<environment>``, ``DeployedAt`` = ``<UTC time>#<execution id>`` (newest
last). On-demand, point-in-time recovery, encrypted with the environment key, deletion-protected and
kept on delete; items expire by ``ExpiresAt`` (TTL). Writers get ``PutItem`` only.
"""
from __future__ import annotations

from awacs import dynamodb as ddb_actions
from troposphere import GetAtt, Ref, dynamodb

from .iam import allow

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


class HistoryTable(HistoryTableReference):
    def __init__(self, stack, logical_id, key):
        self.table = stack.add(dynamodb.Table(
            logical_id,
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
