"""An action in another Region has an artifact store there, and the pipeline one in its own (E9133)."""
from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

HOME = {"Ref": "AWS::Region"}


def _key(value) -> str:
    return json.dumps(value, sort_keys=True)


class CrossRegionArtifactStores(CloudFormationLintRule):
    id = "E9133"
    shortdesc = "Cross-Region actions have an artifact store in their Region"
    description = (
        "An action with Region runs from an artifact store in that Region: the pipeline must list ArtifactStores "
        "(not ArtifactStore) with one entry for its own Region and one for each action Region, else CodePipeline "
        "refuses the pipeline at deploy time. The resource schema does not relate the two."
    )
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-cross-region.html"
    tags = ["resources", "codepipeline", "cross-region", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodePipeline::Pipeline"):
            props = properties(resource)
            stores = props.get("ArtifactStores")
            regions = {_key(s.get("Region")) for s in stores if isinstance(s, dict)} if isinstance(stores, list) else set()
            if isinstance(stores, list) and _key(HOME) not in regions:
                matches.append(RuleMatch(["Resources", logical_id, "Properties", "ArtifactStores"],
                                         "ArtifactStores lists no store for the pipeline's own Region (AWS::Region)"))
            stages = props.get("Stages")
            for s_index, stage in enumerate(stages if isinstance(stages, list) else []):
                actions = stage.get("Actions") if isinstance(stage, dict) else None
                for a_index, action in enumerate(actions if isinstance(actions, list) else []):
                    if not isinstance(action, dict) or "Region" not in action:
                        continue
                    if _key(action["Region"]) in regions or _key(action["Region"]) == _key(HOME):
                        continue
                    matches.append(RuleMatch(
                        ["Resources", logical_id, "Properties", "Stages", s_index, "Actions", a_index, "Region"],
                        f"Action {action.get('Name')} of stage {stage.get('Name')} runs in Region "
                        f"{json.dumps(action['Region'])}, but the pipeline has no artifact store there "
                        "(list it in ArtifactStores)"))
        return matches
