"""ECR repositories: immutable tags, scan on push, KMS-encrypted, bounded by a lifecycle policy.

The repository policy DENIES pushing to every principal except the build roles (``aws:PrincipalArn``
patterns), so no other identity of the account can push, whatever its own IAM policies allow
(an explicit Deny in a resource policy wins; an Allow naming the account root restricts nothing
inside the account). Pull is allowed to the runtime and pipeline roles by pattern. The roles are
named by pattern, not as principals, because ECR rejects a policy naming a role that does not
exist yet, and the pipeline and task roles are deployed after the repository. The roles still
need their identity grants (:meth:`grant_pull`, :meth:`grant_push`).

The lifecycle policy never expires an image an environment runs or a rollback needs: it expires
untagged images and images whose tags start with :data:`CI_TAG_PREFIX` (CI-only builds), never
release tags or ``bootstrap``
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html).

Pushing and pulling need no KMS permission of the caller: ECR holds a KMS grant
made when the repository is created, and uses it for every layer.
"""
from __future__ import annotations

import json

from awacs import ecr as ecr_actions
from awacs.aws import Allow, ArnLike, ArnNotLike, AWSPrincipal, Condition, Deny, Statement
from troposphere import GetAtt, Ref, Sub, ecr

from ..core.suppress import Suppression, suppress
from .iam import ANYONE, allow, document, unscoped

PULL_ACTIONS = [ecr_actions.BatchCheckLayerAvailability, ecr_actions.BatchGetImage, ecr_actions.GetDownloadUrlForLayer]
PUSH_ACTIONS = [
    ecr_actions.BatchCheckLayerAvailability, ecr_actions.CompleteLayerUpload, ecr_actions.InitiateLayerUpload,
    ecr_actions.PutImage, ecr_actions.UploadLayerPart,
]
#: What uploads an image: denied to everyone but the build roles (BatchCheckLayerAvailability also pulls).
UPLOAD_ACTIONS = [a for a in PUSH_ACTIONS if a not in PULL_ACTIONS]
#: Tags of images built for CI only (tests, branches); the lifecycle policy may expire them.
CI_TAG_PREFIX = "ci-"
#: Reading image metadata: the build finds the newest image to use as its layer cache.
DESCRIBE_ACTIONS = [ecr_actions.DescribeImages, ecr_actions.ListImages]
SCAN_FINDINGS_ACTIONS = [ecr_actions.DescribeImageScanFindings, ecr_actions.DescribeImages]


def role_arn_pattern(role_name_pattern: str) -> Sub:
    """``arn:${AWS::Partition}:iam::${AWS::AccountId}:role/<pattern>`` (pattern may use ``${ProjectName}``, ``*``)."""
    return Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/%s" % role_name_pattern)


class RepositoryReference:
    """A repository known by name (this stack's or imported); hands out least-privilege grants."""

    def __init__(self, name, arn=None, uri=None):
        self.name = name
        self.arn = arn if arn is not None else Sub(
            "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${Name}", Name=name)
        self.uri = uri if uri is not None else Sub(
            "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/${Name}", Name=name)

    @staticmethod
    def _login():
        return unscoped([ecr_actions.GetAuthorizationToken],
                        "ecr GetAuthorizationToken has no resource level permission")

    def grant_pull(self):
        return [allow(PULL_ACTIONS, [self.arn]), self._login()]

    def grant_push(self):
        """Push, plus pull and describe: a build pulls the newest image as its layer cache."""
        actions = PUSH_ACTIONS + [a for a in PULL_ACTIONS + DESCRIBE_ACTIONS if a not in PUSH_ACTIONS]
        return [allow(actions, [self.arn]), self._login()]

    def grant_read_scan_findings(self):
        """What an image-scan gate needs: the scan status and findings of this repository's images."""
        return [allow(SCAN_FINDINGS_ACTIONS, [self.arn])]


def lifecycle_policy_text(keep_images) -> Sub:
    """Expire untagged images after a day, and CI-only images (``ci-`` tags) beyond the newest ``keep_images``.

    Release tags (the commit ids environments run and roll back to) and ``bootstrap`` match no rule
    and never expire. ``keep_images``: a Number parameter (or an int); the text is JSON, built with ``Fn::Sub``.
    """
    policy = {"rules": [
        {"rulePriority": 1, "description": "Expire untagged images (failed or superseded pushes) after one day",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "Keep only the newest CI-only images; release tags never expire",
         "selection": {"tagStatus": "tagged", "tagPrefixList": [CI_TAG_PREFIX], "countType": "imageCountMoreThan",
                       "countNumber": "__KEEP__"},
         "action": {"type": "expire"}},
    ]}
    text = json.dumps(policy, separators=(",", ":"), sort_keys=False).replace('"__KEEP__"', "${Keep}")
    return Sub(text, Keep=keep_images)


class Repository(RepositoryReference):
    """``{project}-{env}-{component}``: scan on push, IMMUTABLE tags, KMS, lifecycle, retained on delete.

    ``push_roles``: role ARN patterns (see :func:`role_arn_pattern`), a list or a value that resolves
    to one (``Fn::If``); every other principal is denied pushing. ``pull_roles``: patterns allowed to
    pull in this account; another account only through ``statements`` naming its roles. ``scan_readers``: ARNs of existing roles (imports) that may
    read the images' scan findings on this policy alone, with no identity grant: within one account
    "a user or role only needs to be allowed permission for an action through either a repository
    policy or an IAM policy but not both"
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html#repository-policy-vs-iam-policy).
    """

    def __init__(self, stack, logical_id, name, key, keep_images, push_roles=(), pull_roles=(), scan_readers=(),
                 statements=()):
        """``statements``: more Allow statements (pullers of other accounts, each narrowed to its roles)."""
        self.stack = stack
        extra, statements = list(statements), []
        if push_roles:
            statements.append(Statement(
                Sid="DenyPushExceptBuildRoles", Effect=Deny, Principal=ANYONE, Action=list(UPLOAD_ACTIONS),
                Condition=Condition(ArnNotLike({"aws:PrincipalArn": push_roles})),
            ))
        if pull_roles:
            statements.append(Statement(
                Sid="AllowPullFromThisAccountsRuntimeAndPipelineRoles", Effect=Allow,
                Principal=AWSPrincipal(Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
                Action=list(dict.fromkeys(PULL_ACTIONS + SCAN_FINDINGS_ACTIONS)),
                Condition=Condition(ArnLike({"aws:PrincipalArn": list(pull_roles)})),
            ))
        if scan_readers:
            statements.append(Statement(
                Sid="AllowImageScanGateToReadScanFindings", Effect=Allow, Principal=AWSPrincipal(list(scan_readers)),
                Action=list(SCAN_FINDINGS_ACTIONS),
            ))
        statements += extra
        props = dict(
            RepositoryName=name,
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
            ImageTagMutability="IMMUTABLE",
            EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="KMS", KmsKey=key.arn),
            LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=lifecycle_policy_text(keep_images)),
            EmptyOnDelete=False,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
        if statements:
            props["RepositoryPolicyText"] = document(statements)
        self.repository = stack.add(ecr.Repository(logical_id, **props))
        suppress(self.repository, Suppression(
            "Build projects and task definitions in other stacks address the repository by its "
            "{project}-{env}-{component} name (the image URI); it is retained on delete and replace",
            guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
        ))
        if push_roles:
            suppress(self.repository, Suppression(
                "The only Principal * is in the Deny of pushes by anyone but the build roles; "
                "CKV_AWS_32 ignores the statement's Effect",
                checkov=("CKV_AWS_32",),
            ))
        super().__init__(Ref(self.repository), GetAtt(self.repository, "Arn"), GetAtt(self.repository, "RepositoryUri"))
