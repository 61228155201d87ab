"""The one classification of stateful resources: what deploy's protection guard refuses to
replace in a protected environment, what review flags as ``data-loss`` and what lint rule E9101
requires a ``DeletionPolicy`` and ``UpdateReplacePolicy`` on.

A resource is stateful when its type is in :data:`STATEFUL_TYPES`, or when its template gives it
a ``DeletionPolicy`` that keeps it (:data:`KEEPING_POLICIES`: the author said its data matters).
"""
from __future__ import annotations

#: cfn-lint's ``data/AdditionalSpecs/StatefulResources.json`` (the list its I3011 rule uses),
#: written out so that deploy needs no cfn-lint at run time and a cfn-lint upgrade cannot change
#: the guard silently: tests/test_stackmodel.py fails when cfn-lint lists a type missing here.
CFN_LINT_STATEFUL_TYPES = frozenset({
    "AWS::Backup::BackupVault", "AWS::CloudFormation::Stack", "AWS::Cognito::UserPool",
    "AWS::DocDB::DBCluster", "AWS::DocDB::DBInstance", "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table",
    "AWS::EC2::Volume", "AWS::EFS::FileSystem", "AWS::EMR::Cluster", "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup", "AWS::Elasticsearch::Domain", "AWS::FSx::FileSystem", "AWS::KMS::Key",
    "AWS::Kinesis::Stream", "AWS::Logs::LogGroup", "AWS::Neptune::DBCluster", "AWS::Neptune::DBInstance",
    "AWS::OpenSearchService::Domain", "AWS::Organizations::Account", "AWS::QLDB::Ledger", "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance", "AWS::Redshift::Cluster", "AWS::S3::Bucket", "AWS::SDB::Domain", "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
})

#: Stateful types cfn-lint does not list.
EXTRA_STATEFUL_TYPES = frozenset({
    "AWS::ECR::Repository",            # container images (the artifacts the pipelines promote)
    "AWS::CodeArtifact::Repository",   # packages
    "AWS::CodeCommit::Repository",     # source history
    "AWS::S3Express::DirectoryBucket",  # objects
    "AWS::MemoryDB::Cluster",          # a durable in-memory database
    "AWS::ElastiCache::ServerlessCache",
    "AWS::Timestream::Table",          # time series
})

#: Resource types whose replacement or removal loses data (or, with Retain, leaves it behind).
STATEFUL_TYPES = CFN_LINT_STATEFUL_TYPES | EXTRA_STATEFUL_TYPES

#: A DeletionPolicy that keeps the resource marks it stateful too (the project's convention).
KEEPING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})


def is_stateful(rtype) -> bool:
    """Is ``rtype`` a stateful resource type?"""
    return rtype in STATEFUL_TYPES


def is_stateful_resource(resource) -> bool:
    """Is this template resource stateful: by type, or by a DeletionPolicy that keeps it?"""
    if not isinstance(resource, dict):
        return False
    policy = resource.get("DeletionPolicy")
    return is_stateful(resource.get("Type")) or (isinstance(policy, str) and policy in KEEPING_POLICIES)


def stateful_resources(template) -> dict:
    """Logical id -> type of the template's stateful resources."""
    resources = (template or {}).get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return {}
    return {logical_id: resource.get("Type", "") for logical_id, resource in resources.items()
            if is_stateful_resource(resource)}
