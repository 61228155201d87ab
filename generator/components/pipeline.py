"""A CodePipeline (V2) assembled from stages and actions, with its role built from their grants.

:class:`DeliveryPipeline` owns the pipeline resource, its service role, the S3
source trigger (EventBridge rule whose role may only start this pipeline) and the
notification rules. Stacks add stages made of actions from the helpers here
(:meth:`codebuild_action`, :meth:`approval_action`, :meth:`action`); each helper
adds the grant the pipeline role needs for that action, so the role is exactly the
sum of what the pipeline does.

A pipeline can be built in two stacks from the same stage code (``part``): ``"roles"`` writes the
roles (pipeline, action and trigger roles, with every grant the stages hand out) and exports their
ARNs, but no pipeline; ``"pipeline"`` writes the pipeline, its rules and stages, naming the roles by
the imported ARNs (grants made there are written by the roles stack, which runs the same stages).
``"all"`` does both in one stack.
"""
from __future__ import annotations

from awacs import codepipeline as cp
from awacs import sts
from awacs.aws import AWSPrincipal
from troposphere import Sub, codepipeline, events

from ..core import naming
from .iam import Role, SharedGrants, allow
from .kms import KeyReference
from .s3 import BucketReference
from .sns import TopicReference

SOURCE = "Source"
PIPELINE_EVENTS = [
    "CodePipeline Pipeline Execution State Change",
    "CodePipeline Stage Execution State Change",
    "CodePipeline Action Execution State Change",
]
CONSOLE_LINK = ("https://<region>.console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>"
                "/executions/<execution>/timeline?region=<region>")


PARTS = ("all", "roles", "pipeline")


class RoleReference:
    """A role of the pipeline's roles stack, as the pipeline stack sees it: its imported ARN. Grants
    made to it here are not written here: the roles stack builds the same stages and writes them."""

    def __init__(self, logical_id, arn):
        self.logical_id = logical_id
        self.arn = arn

    def grant(self, *statements):
        return self


def input_artifacts(names):
    return [codepipeline.InputArtifacts(Name=n) for n in names]


class DeliveryPipeline:
    """``component``: the pipeline is ``{project}-{env}-{component}``; roles and rules derive from it."""

    def __init__(self, stack, component, artifact_bucket: BucketReference, key: KeyReference,
                 logical_id="Pipeline", execution_mode="QUEUED", part="all", role_export=None):
        """``part``: see the module doc; ``role_export(logical_id)``: the export declaration of a role's
        ARN (``part`` ``"roles"`` exports it, ``"pipeline"`` imports it)."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, not {part!r}")
        if part != "all" and role_export is None:
            raise ValueError("a pipeline split in two stacks needs role_export")
        self.stack = stack
        self.part = part
        self.role_export = role_export
        self.component = component
        self.logical_id = logical_id
        self.full_name = "${ProjectName}-${EnvironmentName}-%s" % component
        self.name = Sub(self.full_name)
        self.arn = naming.arn("codepipeline", self.full_name)
        self.artifact_bucket = artifact_bucket
        self.stages: list = []
        self._action_roles = None  # SharedGrants of the action roles, from the first one on
        # Confused-deputy protection: CodePipeline may assume the role for this pipeline only.
        self.role_component = component + "-pipeline"
        self.role = self._role(logical_id + "Role", lambda: Role(
            stack, logical_id + "Role", "codepipeline.amazonaws.com", self.role_component,
            source_arn=self.arn, description=f"CodePipeline {component}"))
        self.role.grant(artifact_bucket.grant_read_write(), key.grant_encrypt_decrypt("s3"))
        self.resource = None
        if part == "roles":
            return
        self.resource = stack.add(codepipeline.Pipeline(
            logical_id,
            Name=self.name,
            PipelineType="V2",
            ExecutionMode=execution_mode,
            RoleArn=self.role.arn,
            RestartExecutionOnUpdate=False,
            ArtifactStore=codepipeline.ArtifactStore(
                Type="S3", Location=artifact_bucket.name,
                EncryptionKey=codepipeline.EncryptionKey(Id=key.arn, Type="KMS"),
            ),
        ))
        stack.on_finalize(self._write_stages)

    def _role(self, logical_id, build):
        """The role ``logical_id``: built (and its ARN exported) where this part owns roles, else imported."""
        if self.part == "pipeline":
            return RoleReference(logical_id, self.role_export(logical_id).imported())
        role = build()
        if self.part == "roles":
            self.stack.export(self.role_export(logical_id), role.arn)
        return role

    @property
    def writes_pipeline(self) -> bool:
        return self.part != "roles"

    # -- stages --------------------------------------------------------------
    def add_stage(self, name, actions, rollback_on_failure=False):
        """Append a stage; ``rollback_on_failure`` rolls the stage back to its last successful run."""
        props = {"Name": name, "Actions": list(actions)}
        if rollback_on_failure:
            props["OnFailure"] = codepipeline.FailureConditions(Result="ROLLBACK")
        self.stages.append(codepipeline.Stages(**props))
        return self

    def _write_stages(self):
        if not self.stages:
            raise ValueError(f"pipeline {self.component} has no stages")
        self.resource.Stages = self.stages

    # -- actions -------------------------------------------------------------
    def action(self, name, category, provider, configuration, inputs=(), outputs=(), run_order=1,
               role_arn=None, owner="AWS", namespace=None):
        props = {
            "Name": name,
            "ActionTypeId": codepipeline.ActionTypeId(Category=category, Owner=owner, Provider=provider, Version="1"),
            "Configuration": configuration,
            "RunOrder": run_order,
        }
        if inputs:
            props["InputArtifacts"] = input_artifacts(inputs)
        if outputs:
            props["OutputArtifacts"] = [codepipeline.OutputArtifacts(Name=n) for n in outputs]
        if role_arn is not None:
            props["RoleArn"] = role_arn
        if namespace:
            props["Namespace"] = namespace
        return codepipeline.Actions(**props)

    def codebuild_action(self, name, project, inputs, outputs=(), run_order=1, variables=None, category="Build"):
        """Run ``project`` (a :class:`~.codebuild.BuildProject`); ``variables`` from ``action_variables``;
        ``category``: ``Build`` or ``Test``."""
        self.role.grant(project.grant_start_build())
        configuration = {"ProjectName": project.name}
        if len(inputs) > 1:
            # The buildspec is read from the first input; the others are CODEBUILD_SRC_DIR_<name>.
            configuration["PrimarySource"] = inputs[0]
        if variables is not None:
            configuration["EnvironmentVariables"] = variables
        return self.action(name, category, "CodeBuild", configuration,
                           inputs, outputs, run_order)

    def approval_action(self, name, topic: TopicReference, custom_data, link, run_order=1):
        """Manual approval announced on ``topic``, explaining what is approved and linking to it."""
        self.role.grant(topic.grant_publish())
        configuration = {"NotificationArn": topic.arn, "CustomData": custom_data}
        if link is not None:
            configuration["ExternalEntityLink"] = link
        return self.action(name, "Approval", "Manual", configuration, run_order=run_order)

    def action_role(self, logical_id, component, description, managed_policy_arns=None) -> Role:
        """A role for actions that name it in ``RoleArn``: only this pipeline's role may assume it.

        The trust names the pipeline role by ARN in this account (not ``GetAtt``, so scanners can
        see it is not cross-account) and waits for that role to exist.
        """
        if self.part == "pipeline":
            return self._role(logical_id, None)
        # IAM resolves a role named as Principal when the policy is saved and rejects one that does not
        # exist ("Invalid principal in policy"), so the pipeline role is created first (same stack):
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles
        pipeline_role = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Name}",
                            Name=naming.physical_name(self.role_component))
        role = self._role(logical_id, lambda: Role(
            self.stack, logical_id, AWSPrincipal(pipeline_role), component, source_account=False,
            managed_policy_arns=managed_policy_arns, description=description))
        role.role.DependsOn = [self.role.logical_id]
        self.role.grant(allow([sts.AssumeRole], [role.arn]))
        if self._action_roles is None:
            self._action_roles = SharedGrants(
                self.stack, self.logical_id + "ActionRoles",
                f"Grants every action role of pipeline {self.component} holds (each role keeps its own)")
        return self._action_roles.add(role)

    # -- source ------------------------------------------------------------
    def source_stage(self, bucket: BucketReference, object_key, output=SOURCE):
        """S3 source without polling, started by an EventBridge rule on ``Object Created`` for the key."""
        self.role.grant(bucket.grant_read())
        action = self.action("Source", "Source", "S3", {
            "S3Bucket": bucket.name, "S3ObjectKey": object_key, "PollForSourceChanges": False,
        }, outputs=[output])
        self.add_stage("Source", [action])
        self.start_on_event("Start the pipeline when the source archive is uploaded", {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket.name]}, "object": {"key": [object_key]}},
        })
        return self

    def start_on_event(self, description, pattern):
        """An EventBridge rule ``{pipeline}-source`` on ``pattern`` that starts this pipeline, through a
        role that may start this pipeline only (and only EventBridge, for that rule, may assume)."""
        rule_name = self.full_name + "-source"
        trigger = self._role(self.logical_id + "TriggerRole", lambda: Role(
            self.stack, self.logical_id + "TriggerRole", "events.amazonaws.com",
            self.component + "-trigger", source_arn=naming.arn("events", "rule/" + rule_name),
            description=f"EventBridge starts pipeline {self.component}"))
        trigger.grant(allow([cp.StartPipelineExecution], [self.arn]))
        if not self.writes_pipeline:
            return self
        self.stack.add(events.Rule(
            self.logical_id + "SourceRule",
            Name=Sub(rule_name),
            Description=description,
            State="ENABLED",
            EventPattern=pattern,
            Targets=[events.Target(Id="Pipeline", Arn=self.arn, RoleArn=trigger.arn)],
        ))
        return self

    def add_trigger(self, trigger: codepipeline.PipelineTriggerDeclaration):
        """A V2 trigger (git push or pull request filters on a connection source action)."""
        if not self.writes_pipeline:
            return self
        self.resource.Triggers = list(getattr(self.resource, "Triggers", None) or []) + [trigger]
        return self

    # -- notifications -------------------------------------------------------
    def notify(self, topic: TopicReference):
        """Failed pipeline/stage/action executions and pending approvals, as readable messages."""
        if not self.writes_pipeline:
            return self
        self._notification_rule("FailedRule", "failed", "Pipeline, stage or action failed",
                                PIPELINE_EVENTS, {"state": ["FAILED"]}, topic,
                                "<pipeline>: <stage> <action> FAILED in execution <execution>.")
        self._notification_rule("ApprovalRule", "approval", "Manual approval waiting",
                                PIPELINE_EVENTS[2:], {"state": ["STARTED"], "type": {"category": ["Approval"]}},
                                topic, "<pipeline>: approval <action> in stage <stage> waits (execution <execution>).")
        return self

    def _notification_rule(self, suffix, name, description, detail_types, detail, topic, text):
        self.stack.add(events.Rule(
            self.logical_id + suffix,
            Name=Sub(f"{self.full_name}-{name}"),
            Description=description,
            State="ENABLED",
            EventPattern={"source": ["aws.codepipeline"], "detail-type": detail_types,
                          "resources": [self.arn], "detail": detail},
            Targets=[events.Target(
                Id="Notifications", Arn=topic.arn,
                InputTransformer=events.InputTransformer(
                    InputPathsMap={
                        "pipeline": "$.detail.pipeline", "stage": "$.detail.stage", "action": "$.detail.action",
                        "execution": "$.detail.execution-id", "region": "$.region",
                    },
                    InputTemplate='"%s %s"' % (text, CONSOLE_LINK),
                ),
            )],
        ))
