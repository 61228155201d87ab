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


def query(dynamodb, table: str, app: str, env: str, limit: int = None):
    """The records of ``app`` in ``env``, newest first (every page, or the first ``limit`` records)."""
    paginator = dynamodb.get_paginator("query")
    config = {"MaxItems": limit} if limit else {}
    pages = paginator.paginate(
        TableName=table, KeyConditionExpression="#t = :t", ExpressionAttributeNames={"#t": PARTITION_KEY},
        ExpressionAttributeValues={":t": {"S": target_key(app, env)}}, ScanIndexForward=False,
        PaginationConfig=config)
    count = 0
    for page in pages:
        for item in page.get("Items", []):
            yield plain(item)
            count += 1
            if limit and count >= limit:
                return


def deployed_at(record: dict) -> str:
    """The UTC time of a record (the sort key's first part)."""
    return record.get(SORT_KEY, "").split("#", 1)[0]


def source_version(record: dict) -> str:
    return record.get("SourceVersion") or record.get("Version", "")


def is_candidate(record: dict, kind: str) -> bool:
    """A version a rollback may switch to: healthy, with an artifact version of this kind."""
    return (record.get("Outcome") == HEALTHY and bool(record.get("ArtifactVersion"))
            and record.get("Kind", kind) in ("", kind))
