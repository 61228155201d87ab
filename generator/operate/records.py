"""The deployment history table (``components.history``; written by ``functions/record_deployment.py``):
one item per deployment, ``Target`` = ``<app>#<env>``, ``DeployedAt`` = ``<UTC time>#<execution id>``,
so a Query on ``Target`` newest first is the history of one application in one environment.

Attributes read: ``Outcome`` (healthy/unhealthy), ``Kind``, ``ArtifactVersion`` (what a rollback switches
to: Beanstalk version label, ECS task definition ARN with revision, Lambda function version),
``ImageDigest``, ``SourceVersion`` (older records: ``Version``), ``ExecutionId``, ``Pipeline``, ``Detail``,
``StartedAt``/``EndedAt``/``ExpiresAt``. A record without ``ArtifactVersion`` (written before the
recorder read it) is listed but never a rollback candidate.
"""
from __future__ import annotations

from ..components.history import PARTITION_KEY, SORT_KEY

HEALTHY = "healthy"
NUMBERS = ("StartedAt", "EndedAt", "ExpiresAt")


def target_key(app: str, env: str) -> str:
    return f"{app}#{env}"


def plain(item: dict) -> dict:
    """A DynamoDB item as plain values (strings; the numbers as int)."""
    out = {}
    for name, typed in item.items():
        (kind, value), = typed.items()
        out[name] = int(value) if kind == "N" and name in NUMBERS else value
    return out


def items(dynamodb, table: str, app: str, env: str, limit: int = None):
    """The items of ``app`` in ``env`` as DynamoDB returns them, newest first (every page, or the first
    ``limit``)."""
    paginator = dynamodb.get_paginator("query")
    config = {"MaxItems": limit} if limit else {}
    pages = paginator.paginate(
        TableName=table, KeyConditionExpression="#t = :t", ExpressionAttributeNames={"#t": PARTITION_KEY},
        ExpressionAttributeValues={":t": {"S": target_key(app, env)}}, ScanIndexForward=False,
        PaginationConfig=config)
    count = 0
    for page in pages:
        for item in page.get("Items", []):
            yield item
            count += 1
            if limit and count >= limit:
                return


def query(dynamodb, table: str, app: str, env: str, limit: int = None):
    """The records of ``app`` in ``env``, newest first, as plain values."""
    for item in items(dynamodb, table, app, env, limit):
        yield plain(item)


def copy(dynamodb, source: str, table: str, app: str, env: str, dry_run: bool = False) -> tuple:
    """Copy the records of ``app`` in ``env`` from table ``source`` into ``table``, never overwriting one
    already there (a conditional put on the key): ``(copied, already there)``. ``dry_run``: count only."""
    copied = present = 0
    for item in items(dynamodb, source, app, env):
        if dry_run:
            found = dynamodb.get_item(TableName=table, Key={k: item[k] for k in (PARTITION_KEY, SORT_KEY)},
                                      ProjectionExpression="#t", ExpressionAttributeNames={"#t": PARTITION_KEY})
            present += "Item" in found
            copied += "Item" not in found
            continue
        try:
            dynamodb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(#t)",
                              ExpressionAttributeNames={"#t": PARTITION_KEY})
            copied += 1
        except dynamodb.exceptions.ConditionalCheckFailedException:
            present += 1
    return copied, present


def deployed_at(record: dict) -> str:
    """The UTC time of a record (the sort key's first part)."""
    return record.get(SORT_KEY, "").split("#", 1)[0]


def source_version(record: dict) -> str:
    return record.get("SourceVersion") or record.get("Version", "")


def is_candidate(record: dict, kind: str) -> bool:
    """A version a rollback may switch to: healthy, with an artifact version of this kind."""
    return (record.get("Outcome") == HEALTHY and bool(record.get("ArtifactVersion"))
            and record.get("Kind", kind) in ("", kind))
