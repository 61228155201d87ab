"""Pipeline sources that deploy and start once: no CodeCommit repository created, no polling beside
the EventBridge rule, V2 triggers only on V2 pipelines."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

DOC = "https://docs.aws.amazon.com/codepipeline/latest/userguide/PollForSourceChanges-defaults.html"
#: Source actions whose ``PollForSourceChanges`` defaults to true when CloudFormation creates them.
POLLING_PROVIDERS = ("CodeCommit", "S3")


class PipelineSourceStarts(CloudFormationLintRule):
    id = "E9120"
    shortdesc = "Pipeline sources: existing CodeCommit repositories, no polling, triggers on V2 only"
    description = (
        "AWS::CodeCommit::Repository fails for accounts that never had a repository (CodeCommit is closed "
        "to new customers). A CodeCommit or S3 source action created by CloudFormation polls unless "
        "PollForSourceChanges is false, which starts the pipeline twice beside its EventBridge rule. "
        "Triggers (git push/pull-request filters) exist on PipelineType V2 only; a V1 pipeline with them "
        "fails to deploy."
    )
    source_url = DOC
    tags = ["resources", "codepipeline", "codecommit", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, _ in resources(cfn, "AWS::CodeCommit::Repository"):
            matches.append(RuleMatch(
                ["Resources", logical_id],
                f"{logical_id} creates a CodeCommit repository, which fails in accounts new to CodeCommit "
                "(closed to new customers): read an existing repository by name instead",
            ))
        for logical_id, resource in resources(cfn, "AWS::CodePipeline::Pipeline"):
            props = properties(resource)
            if props.get("Triggers") and props.get("PipelineType") != "V2":
                matches.append(RuleMatch(
                    ["Resources", logical_id, "Properties", "Triggers"],
                    f"{logical_id} has Triggers but is not PipelineType V2: set PipelineType: V2",
                ))
            stages = props.get("Stages")
            for i, stage in enumerate(stages if isinstance(stages, list) else []):
                actions = stage.get("Actions") if isinstance(stage, dict) else None
                for j, action in enumerate(actions if isinstance(actions, list) else []):
                    if not isinstance(action, dict):
                        continue
                    type_id = action.get("ActionTypeId") or {}
                    config = action.get("Configuration") or {}
                    if (isinstance(type_id, dict) and type_id.get("Category") == "Source"
                            and type_id.get("Provider") in POLLING_PROVIDERS and isinstance(config, dict)
                            and not _is_false(config.get("PollForSourceChanges", True))):
                        matches.append(RuleMatch(
                            ["Resources", logical_id, "Properties", "Stages", i, "Actions", j, "Configuration"],
                            f"{logical_id} source action {action.get('Name')} ({type_id.get('Provider')}) polls: "
                            "set PollForSourceChanges: false and start it with an EventBridge rule",
                        ))
        return matches


def _is_false(value) -> bool:
    return value is False or (isinstance(value, str) and value.lower() == "false")
