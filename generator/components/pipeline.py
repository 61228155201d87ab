"""A CodePipeline (V2) assembled from stages and actions, with its role built from their grants.

:class:`DeliveryPipeline` owns the pipeline resource, its service role, the S3
source trigger (EventBridge rule whose role may only start this pipeline) and the stage
conditions (:meth:`alarm_rule`: alarms gating entry, bake time after a deploy); notifications
and the audit trail are the operations stack's rules. Stacks add stages made of actions from the helpers here
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

from awacs import cloudwatch as cw
from awacs import codepipeline as cp
from awacs import sts
from awacs.aws import AWSPrincipal, Condition, StringEquals
from troposphere import Region, Sub, codepipeline, events

from ..core import naming
from .iam import Role, SharedGrants, allow, unscoped
from .kms import ENCRYPT_DECRYPT_ACTIONS, KeyReference
from .s3 import BUCKET_READ_ACTIONS, READ_ACTIONS, WRITE_ACTIONS, BucketReference

SOURCE = "Source"
#: Rules in one stage condition: https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Condition.html
MAX_CONDITION_RULES = 5


PARTS = ("all", "roles", "pipeline")


class RoleReference:
    """A role of the pipeline's roles stack, as the pipeline stack sees it: its imported ARN. Grants
    made to it here are not written here: the roles stack builds the same stages and writes them."""

    def __init__(self, logical_id, arn):
        self.logical_id = logical_id
        self.arn = arn

    def grant(self, *statements):
        return self


def job_result_grant():
    """What a function invoked by a pipeline's Lambda action needs to report its job's result."""
    return unscoped([cp.PutJobSuccessResult, cp.PutJobFailureResult],
                    "CodePipeline job results have no resource level permission")


def input_artifacts(names):
    return [codepipeline.InputArtifacts(Name=n) for n in names]


def pipeline_name(component: str, env: str = "${EnvironmentName}") -> str:
    """The ``Fn::Sub`` text of pipeline ``component``'s name in ``env`` (the tools environment): also where a
    stack of another environment names it (a wave's account holds its Lambda deploy action's log group)."""
    return "${ProjectName}-%s-%s" % (env, component)


class DeliveryPipeline:
    """``component``: the pipeline is ``{project}-{env}-{component}``; roles and rules derive from it."""

    def __init__(self, stack, component, artifact_bucket: BucketReference, key: KeyReference,
                 logical_id="Pipeline", execution_mode="QUEUED", part="all", role_export=None,
                 trigger_rules=("source",)):
        """``part``: see the module doc; ``role_export(logical_id)``: the export declaration of a role's
        ARN (``part`` ``"roles"`` exports it, ``"pipeline"`` imports it). ``trigger_rules``: suffixes of the
        EventBridge rules that may start the pipeline (``{pipeline}-<suffix>``, :meth:`start_on_event`)."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, not {part!r}")
        if part != "all" and role_export is None:
            raise ValueError("a pipeline split in two stacks needs role_export")
        self.stack = stack
        self.part = part
        self.role_export = role_export
        self.component = component
        self.logical_id = logical_id
        self.full_name = pipeline_name(component)
        self.name = Sub(self.full_name)
        self.arn = naming.arn("codepipeline", self.full_name)
        self.artifact_bucket = artifact_bucket
        self.stages: list = []
        self._regional_stores: list = []
        self._action_roles = None  # SharedGrants of the action roles, from the first one on
        self.trigger_rules = tuple(trigger_rules)
        self._trigger = None  # the role the trigger rules start the pipeline with, from the first rule on
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
    def add_stage(self, name, actions, rollback_on_failure=False, entry_rules=(), bake_rules=()):
        """Append a stage; ``rollback_on_failure`` rolls the stage back to its last successful run.

        ``entry_rules`` (from :meth:`alarm_rule`): the stage is entered only when they pass, else the
        execution fails there (``BeforeEntry``, result ``FAIL``). ``bake_rules``: checked after the stage
        succeeded; one failing rolls the stage back (``OnSuccess``, result ``ROLLBACK``). Entry conditions
        take FAIL or SKIP, success conditions ROLLBACK:
        https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html
        """
        for rules in (entry_rules, bake_rules):
            if len(rules) > MAX_CONDITION_RULES:  # the API's limit (lint rule E9132 checks templates too)
                raise ValueError(f"stage {name}: {len(rules)} rules in one condition, CodePipeline accepts "
                                 f"{MAX_CONDITION_RULES}; combine the alarms into a composite alarm (and grant "
                                 f"cloudwatch:DescribeAlarms on '*', which composite alarms need: see alarm_rule)")
        props = {"Name": name, "Actions": list(actions)}
        if entry_rules:
            props["BeforeEntry"] = codepipeline.BeforeEntryConditions(Conditions=[
                codepipeline.Condition(Result="FAIL", Rules=list(entry_rules))])
        if bake_rules:
            props["OnSuccess"] = codepipeline.SuccessConditions(Conditions=[
                codepipeline.Condition(Result="ROLLBACK", Rules=list(bake_rules))])
        if rollback_on_failure:
            props["OnFailure"] = codepipeline.FailureConditions(Result="ROLLBACK")
        self.stages.append(codepipeline.Stages(**props))
        return self

    def alarm_rule(self, name, alarm_name, wait_minutes=0, alarm_arn=None, role_arn=None,
                   region=None) -> codepipeline.RuleDeclaration:
        """A ``CloudWatchAlarm`` rule on alarm ``alarm_name`` (``AlarmStates`` is required: ALARM fails it).
        In an entry condition without ``WaitTime`` it fails at once when the alarm is in ALARM; in a success
        condition ``WaitTime`` is the bake time, the rule fails (and the stage rolls back) if the alarm goes
        into ALARM within it ("roll back the changes if a CloudWatch alarm goes into ALARM state within 60
        minutes", https://aws.amazon.com/about-aws/whats-new/2024/08/aws-codepipeline-stage-level-conditions-implement-pipeline-gates/).
        Rule reference: https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html
        The rule runs as the pipeline role (``roleArn``: "the pipeline role ARN associated with the rule",
        https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleDeclaration.html). Neither the rule
        reference, the stage-conditions guide nor the service-role page names a permission for it, so the role
        may read the state of exactly that alarm: cloudwatch:DescribeAlarms takes the alarm resource (Service
        Authorization Reference; ``alarm_arn`` when the caller knows it, else built from the name). A composite
        alarm would need DescribeAlarms on ``*`` ("You can't return information about composite alarms if your
        cloudwatch:DescribeAlarms permission has a narrower scope",
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/permissions-reference-cw.html): the
        wave alarms are metric and metric-math alarms.

        ``role_arn`` / ``region``: an alarm in another account or Region is read by the rule under that role (the
        role "that performs the declared rule. This is assumed through the roleArn for the pipeline",
        https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_RuleExecutionInput.html, as for an
        action), in that Region (``RuleDeclaration.Region``); the role holds the read grant, not the pipeline's.
        """
        if role_arn is None:
            if alarm_arn is None:
                alarm_arn = Sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${Name}",
                                Name=alarm_name)
            self.role.grant(allow([cw.DescribeAlarms], [alarm_arn]))
        configuration = {"AlarmName": alarm_name, "AlarmStates": "ALARM"}
        if wait_minutes:
            configuration["WaitTime"] = str(wait_minutes)
        placed = {k: v for k, v in (("RoleArn", role_arn), ("Region", region)) if v is not None}
        return codepipeline.RuleDeclaration(
            Name=name, Configuration=configuration, **placed,
            RuleTypeId=codepipeline.RuleTypeId(Category="Rule", Owner="AWS", Provider="CloudWatchAlarm", Version="1"),
        )

    def add_artifact_store(self, region, location, key_arn):
        """The artifact store of actions in another ``region`` (bucket ``location`` there, encrypted with
        ``key_arn``): the pipeline then lists one store per Region, its own first (``ArtifactStores``
        replaces ``ArtifactStore``: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-codepipeline-pipeline-artifactstoremap.html).
        The pipeline role copies the artifacts in, with the key through S3 in that Region only."""
        bucket = Sub("arn:${AWS::Partition}:s3:::${Name}", Name=location)
        self.role.grant(
            allow(READ_ACTIONS + WRITE_ACTIONS, [Sub("${Arn}/*", Arn=bucket)]),
            allow(BUCKET_READ_ACTIONS, [bucket]),
            allow(ENCRYPT_DECRYPT_ACTIONS, [key_arn], condition=Condition(StringEquals(
                {"kms:ViaService": Sub("s3.${Region}.amazonaws.com", Region=region)}))),
        )
        self._regional_stores.append(codepipeline.ArtifactStoreMap(Region=region, ArtifactStore=codepipeline.ArtifactStore(
            Type="S3", Location=location, EncryptionKey=codepipeline.EncryptionKey(Id=key_arn, Type="KMS"))))

    def _write_stages(self):
        if not self.stages:
            raise ValueError(f"pipeline {self.component} has no stages")
        self.resource.Stages = self.stages
        if self._regional_stores:
            home = self.resource.properties.pop("ArtifactStore")
            self.resource.ArtifactStores = [codepipeline.ArtifactStoreMap(Region=Region, ArtifactStore=home),
                                            *self._regional_stores]

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

    def approval_action(self, name, custom_data, link, run_order=1):
        """Manual approval explaining what is approved and linking to it. Approvers are told by the
        operations stack's EventBridge rule (approvals topic), so no ``NotificationArn``: one message each."""
        configuration = {"CustomData": custom_data}
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

    def add_source_action(self, name, bucket: BucketReference, object_key, output, rule_suffix):
        """A further S3 source action in the ``Source`` stage (added first), started like :meth:`source_stage`
        by its own rule ``{pipeline}-<rule_suffix>``; the pipeline role may read that key only."""
        self.role.grant(bucket.grant_read(object_key))
        action = self.action(name, "Source", "S3", {
            "S3Bucket": bucket.name, "S3ObjectKey": object_key, "PollForSourceChanges": False,
        }, outputs=[output])
        stage = next(s for s in self.stages if s.Name == "Source")
        stage.Actions = list(stage.Actions) + [action]
        self.start_on_event(f"Start the pipeline when {object_key} is uploaded", {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket.name]}, "object": {"key": [object_key]}},
        }, rule_suffix=rule_suffix, logical_id=self.logical_id + name + "Rule")
        return self

    def _trigger_role(self):
        """The role every trigger rule of this pipeline starts it with: EventBridge may assume it for those
        rules only (``trigger_rules``), and it may start this pipeline only."""
        if self._trigger is None:
            rules = [naming.arn("events", f"rule/{self.full_name}-{suffix}") for suffix in self.trigger_rules]
            self._trigger = self._role(self.logical_id + "TriggerRole", lambda: Role(
                self.stack, self.logical_id + "TriggerRole", "events.amazonaws.com",
                self.component + "-trigger", source_arn=rules[0] if len(rules) == 1 else rules,
                description=f"EventBridge starts pipeline {self.component}"))
            self._trigger.grant(allow([cp.StartPipelineExecution], [self.arn]))
        return self._trigger

    def start_on_event(self, description, pattern, rule_suffix="source", logical_id=None):
        """An EventBridge rule ``{pipeline}-<rule_suffix>`` on ``pattern`` that starts this pipeline, through
        a role that may start this pipeline only (and only EventBridge, for its rules, may assume)."""
        if rule_suffix not in self.trigger_rules:
            raise ValueError(f"rule suffix {rule_suffix!r} is not one of trigger_rules {self.trigger_rules}")
        rule_name = f"{self.full_name}-{rule_suffix}"
        trigger = self._trigger_role()
        if not self.writes_pipeline:
            return self
        self.stack.add(events.Rule(
            logical_id or self.logical_id + "SourceRule",
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
