"""A CHANGE_SET_EXECUTE action runs after a CHANGE_SET_REPLACE of the same change set (E9140)."""
from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources


def _key(value) -> str:
    """A configuration value (a string or an intrinsic) as comparable text."""
    return json.dumps(value, sort_keys=True)


def _run_order(action) -> int:
    try:
        return int(action.get("RunOrder", 1))
    except (TypeError, ValueError):
        return 1


class ChangeSetExecutePrepared(CloudFormationLintRule):
    id = "E9140"
    shortdesc = "CHANGE_SET_EXECUTE follows a CHANGE_SET_REPLACE of the same change set in its stage"
    description = (
        "CodePipeline's CloudFormation action in CHANGE_SET_EXECUTE mode executes the change set named by "
        "StackName and ChangeSetName; without a CHANGE_SET_REPLACE of that change set earlier in the same stage "
        "(a lower RunOrder) it executes a stale change set left by an older run, or fails because none exists. "
        "The schema cannot see this; the pipeline fails (or deploys old infrastructure) at run time."
    )
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CloudFormation.html"
    tags = ["resources", "codepipeline", "cloudformation", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodePipeline::Pipeline"):
            stages = properties(resource).get("Stages")
            for index, stage in enumerate(stages if isinstance(stages, list) else []):
                actions = stage.get("Actions") if isinstance(stage, dict) else None
                if not isinstance(actions, list):
                    continue
                prepared = {}  # (stack, change set) -> lowest RunOrder of a CHANGE_SET_REPLACE
                executes = []
                for number, action in enumerate(actions):
                    if not isinstance(action, dict):
                        continue
                    type_id = action.get("ActionTypeId") or {}
                    config = action.get("Configuration") or {}
                    if not (isinstance(type_id, dict) and type_id.get("Provider") == "CloudFormation"
                            and isinstance(config, dict)):
                        continue
                    key = (_key(config.get("StackName")), _key(config.get("ChangeSetName")))
                    mode = config.get("ActionMode")
                    if mode == "CHANGE_SET_REPLACE":
                        prepared[key] = min(prepared.get(key, _run_order(action)), _run_order(action))
                    elif mode == "CHANGE_SET_EXECUTE":
                        executes.append((number, action, key))
                for number, action, key in executes:
                    if key not in prepared or prepared[key] >= _run_order(action):
                        matches.append(RuleMatch(
                            ["Resources", logical_id, "Properties", "Stages", index, "Actions", number],
                            f"Stage {stage.get('Name')}: action {action.get('Name')} executes change set "
                            f"{json.loads(key[1])} of stack {json.loads(key[0])} without a CHANGE_SET_REPLACE of it "
                            "at a lower RunOrder in the same stage; add one before it"))
        return matches
