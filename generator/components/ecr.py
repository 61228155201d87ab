"""ECR repositories: immutable tags, scan on push, KMS-encrypted, bounded by a lifecycle policy.

The repository policy names who may use the repository: this account (its root
principal, so nothing outside the account is ever allowed) narrowed to role ARN
patterns with ``aws:PrincipalArn``. The roles are not named as principals because
ECR rejects a policy naming a role that does not exist yet, and the pipeline roles
and the ECS task execution roles are deployed after the repository. Within the
account the roles still need their identity grants (:meth:`grant_pull`,
:meth:`grant_push`); the policy adds no access of its own.

Pushing and pulling need no KMS permission of the caller: ECR holds a KMS grant
made when the repository is created, and uses it for every layer.
"""
from __future__ import annotations

import json

from awacs import ecr as ecr_actions
from awacs.aws import Allow, ArnLike, AWSPrincipal, Condition, Statement
from troposphere import GetAtt, Ref, Sub, ecr

from ..core.suppress import Suppression, suppress
from .iam import allow, document, unscoped

PULL_ACTIONS = [ecr_actions.BatchCheckLayerAvailability, ecr_actions.BatchGetImage, ecr_actions.GetDownloadUrlForLayer]
PUSH_ACTIONS = [
    ecr_actions.BatchCheckLayerAvailability, ecr_actions.CompleteLayerUpload, ecr_actions.InitiateLayerUpload,
    ecr_actions.PutImage, ecr_actions.UploadLayerPart,
]
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
    """Expire untagged images after a day and keep only the newest ``keep_images`` images.

    ``keep_images``: a Number parameter (or an int); the policy text is JSON, built with ``Fn::Sub``.
    """
    policy = {"rules": [
        {"rulePriority": 1, "description": "Expire untagged images (failed or superseded pushes) after one day",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "Keep only the newest images",
         "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": "__KEEP__"},
         "action": {"type": "expire"}},
    ]}
    text = json.dumps(policy, separators=(",", ":"), sort_keys=False).replace('"__KEEP__"', "${Keep}")
    return Sub(text, Keep=keep_images)


class Repository(RepositoryReference):
    """``{project}-{env}-{component}``: scan on push, IMMUTABLE tags, KMS, lifecycle, retained on delete.

    ``push_roles`` / ``pull_roles``: role ARN patterns (see :func:`role_arn_pattern`) the repository
    policy names; no other account is ever allowed.
    """

    def __init__(self, stack, logical_id, name, key, keep_images, push_roles=(), pull_roles=()):
        self.stack = stack
        statements = []
        for sid, actions, roles in (("AllowPushFromThisAccountsBuildRoles", PUSH_ACTIONS + PULL_ACTIONS + DESCRIBE_ACTIONS, push_roles),
                                    ("AllowPullFromThisAccountsRuntimeAndPipelineRoles", PULL_ACTIONS + SCAN_FINDINGS_ACTIONS, pull_roles)):
            if roles:
                statements.append(Statement(
                    Sid=sid, Effect=Allow, Principal=AWSPrincipal(Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
                    Action=list(dict.fromkeys(actions)),
                    Condition=Condition(ArnLike({"aws:PrincipalArn": list(roles)})),
                ))
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
        super().__init__(Ref(self.repository), GetAtt(self.repository, "Arn"), GetAtt(self.repository, "RepositoryUri"))
