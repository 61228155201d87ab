"""A stage condition holds 1-5 rules, and each condition block exactly one condition (E9132)."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

#: CodePipeline API: Condition.rules has 1-5 items; BeforeEntry/OnSuccess/OnFailure conditions exactly 1.
MAX_RULES = 5
BLOCKS = ("BeforeEntry", "OnSuccess", "OnFailure")


class StageConditionRules(CloudFormationLintRule):
    id = "E9132"
    shortdesc = "Stage conditions: one condition per block, 1-5 rules each"
    description = (
        "CodePipeline accepts exactly one condition in a stage's BeforeEntry, OnSuccess or OnFailure block and "
        "1 to 5 rules in a condition; the resource schema does not say so, and the pipeline update fails at "
        "deploy time. Gate a wave on at most five alarms (combine more into a composite alarm)."
    )
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Condition.html"
    tags = ["resources", "codepipeline", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodePipeline::Pipeline"):
            stages = properties(resource).get("Stages")
            for index, stage in enumerate(stages if isinstance(stages, list) else []):
                if not isinstance(stage, dict):
                    continue
                for block in BLOCKS:
                    conditions = (stage.get(block) or {}).get("Conditions") if isinstance(stage.get(block), dict) else None
                    if not isinstance(conditions, list):
                        continue
                    path = ["Resources", logical_id, "Properties", "Stages", index, block, "Conditions"]
                    if len(conditions) != 1:
                        matches.append(RuleMatch(path, f"Stage {stage.get('Name')}: {block} holds {len(conditions)} "
                                                       "conditions; CodePipeline accepts exactly one"))
                    for number, condition in enumerate(conditions):
                        rules = condition.get("Rules") if isinstance(condition, dict) else None
                        if isinstance(rules, list) and not 1 <= len(rules) <= MAX_RULES:
                            matches.append(RuleMatch(path + [number, "Rules"], (
                                f"Stage {stage.get('Name')}: a {block} condition with {len(rules)} rules; "
                                f"CodePipeline accepts 1 to {MAX_RULES} (use a composite alarm for more)")))
        return matches
