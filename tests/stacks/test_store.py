"""Each pipeline's artifact store (stacks/store.py), its own stack: hardened like every bucket, writable by
that pipeline's roles only, readable by the shared scanners through its bucket policy alone."""
import fnmatch
import json
import re

import pytest

from generator import registry
from generator.stacks.store import StoreStack
from tests.helpers import as_list, resources, statements
from tests.stacks.test_artifacts import (FOUNDATION_KEY, REQUESTS, TLS, _denied, assert_denies_plain_http_and_foreign_encryption,
                                         assert_hardened, assert_kms_without_a_key_id_denied, bucket_policy)

STORES = [s for s in registry.STACKS if issubclass(s, StoreStack)]
PIPELINES = {s.delivery.store_stack: s for s in registry.STACKS
             if getattr(s, "build_class", None) is not None and s.part == "pipeline"}


@pytest.fixture(params=STORES, ids=lambda s: s.name)
def store(request, templates):
    return request.param, templates[request.param.name]


def test_one_store_stack_per_pipeline():
    assert STORES and {s.name for s in STORES} == set(PIPELINES)
    assert {s.component for s in STORES} == {p.delivery.component for p in PIPELINES.values()}


def test_hardened_and_expiring(store):
    _, template = store
    [(logical_id, bucket)] = resources(template, "AWS::S3::Bucket").items()
    assert_hardened(bucket)
    assert "BucketName" not in bucket["Properties"], "CloudFormation names it; the name is exported"
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert rules["ExpireObjects"]["ExpirationInDays"] == {"Ref": "ArtifactRetentionDays"}
    assert_denies_plain_http_and_foreign_encryption(template, logical_id)
    assert_kms_without_a_key_id_denied(bucket_policy(template, logical_id))


def test_exports_name_and_arn_under_its_own_stack(store):
    cls, template = store
    assert {k: o["Export"]["Name"]["Fn::Sub"] for k, o in template["Outputs"].items()} == {
        key: "${ProjectName}-${EnvironmentName}-%s-%s" % (cls.name, key)
        for key in ("ArtifactBucketName", "ArtifactBucketArn")}


def _role_names(template):
    """Role name patterns of a template, ``${...}`` turned into ``X``."""
    return [re.sub(r"\$\{[^}]+\}", "X", r["Properties"]["RoleName"]["Fn::Sub"])
            for r in resources(template, "AWS::IAM::Role").values()]


def test_only_this_pipelines_roles_may_write_its_store(store, templates):
    """The bypass: a build of another pipeline (privileged Docker on arbitrary source) overwriting this
    pipeline's approved artifacts. The store's policy denies PutObject to every other principal."""
    cls, template = store
    [deny] = [s for s in statements(bucket_policy(template, "ArtifactBucket"))
              if s.get("Sid") == "DenyWritesByOtherThanThisPipelinesRoles"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == ["s3:PutObject"]
    glob = re.sub(r"\$\{[^}]+\}", "X", deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]["Fn::Sub"].split(":role/")[1])
    own = other = 0
    for stack_cls in registry.STACKS:
        if getattr(stack_cls, "delivery", None) is None:
            continue
        for role in _role_names(templates[stack_cls.name]):
            if stack_cls.delivery.component == cls.component:
                own += 1
                assert fnmatch.fnmatchcase(role, glob), f"{stack_cls.name} role {role} cannot write its own store"
            else:
                other += 1
                assert not fnmatch.fnmatchcase(role, glob), f"{stack_cls.name} role {role} may write {cls.name}"
    for scanner in ("source-scanner", "image-scanner"):
        for role in _role_names(templates[scanner]):
            assert not fnmatch.fnmatchcase(role, glob), f"shared scanner role {role} may write {cls.name}"
    assert own and other


@pytest.mark.parametrize("request_headers,allowed", REQUESTS)
def test_put_object_only_under_the_bucket_key(store, request_headers, allowed):
    cls, template = store
    caller = {"aws:PrincipalArn": f"arn:X:iam::X:role/X-X-{cls.component}-pipeline"}  # the pipeline's own role
    denied_by = _denied(bucket_policy(template, "ArtifactBucket"), dict(TLS, **caller, **request_headers))
    assert (denied_by is None) is allowed, denied_by


def test_no_role_is_granted_writes_to_another_pipelines_store(templates):
    for stack_cls in registry.STACKS:
        delivery = getattr(stack_cls, "delivery", None)
        if delivery is None:
            continue
        for policy in resources(templates[stack_cls.name], "AWS::IAM::Policy").values():
            for statement in statements(policy["Properties"]["PolicyDocument"]):
                if "s3:PutObject" not in as_list(statement["Action"]):
                    continue
                text = json.dumps(statement["Resource"])
                for store_cls in STORES:
                    if f"-{store_cls.name}-ArtifactBucket" in text:
                        assert store_cls.name == delivery.store_stack, (stack_cls.name, text)


def test_shared_scanners_read_through_the_bucket_policy_and_write_nothing(store, templates):
    """The scanners' roles list no store (their size does not grow with the applications): each store's
    policy names the roles of the scanners its pipeline runs, by the ARN their stacks export."""
    cls, template = store
    pipeline = templates[PIPELINES[cls.name].name]
    runs = [a["Configuration"]["ProjectName"]["Fn::ImportValue"]["Fn::Sub"]
            for s in next(iter(resources(pipeline, "AWS::CodePipeline::Pipeline").values()))["Properties"]["Stages"]
            for a in s["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    scanners = sorted(s for s in ("source-scanner", "image-scanner")
                      if any(r.startswith("${ProjectName}-${EnvironmentName}-%s-" % s) for r in runs))
    assert "source-scanner" in scanners
    expected = [{"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (
        stack, "SecurityScanRoleArn" if stack == "source-scanner" else "ImageScanRoleArn")}} for stack in scanners]
    allows = [s for s in statements(bucket_policy(template, "ArtifactBucket")) if s["Effect"] == "Allow"]
    assert allows and all(sorted(s["Principal"]["AWS"], key=json.dumps) == sorted(expected, key=json.dumps)
                          for s in allows)
    actions = {a for s in allows for a in as_list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation", "s3:GetBucketVersioning",
                       "s3:ListBucket"}
    for stack in scanners:
        outputs = {o["Export"]["Name"]["Fn::Sub"]: o["Value"] for o in templates[stack]["Outputs"].values()}
        role = outputs[expected[scanners.index(stack)]["Fn::ImportValue"]["Fn::Sub"]]["Fn::GetAtt"]
        assert role[1] == "Arn" and role[0] in resources(templates[stack], "AWS::IAM::Role")
        assert stack in registry.requires(cls), "the scanner role must exist before the policy names it"


def test_store_imports_nothing_from_its_pipeline(store):
    cls, _ = store
    assert set(registry.requires(cls)) <= {"foundation", "source-scanner", "image-scanner"}


def test_store_key_is_the_tools_key(store):
    _, template = store
    [bucket] = resources(template, "AWS::S3::Bucket").values()
    rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == FOUNDATION_KEY
