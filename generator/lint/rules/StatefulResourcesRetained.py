"""Every stateful resource declares DeletionPolicy and UpdateReplacePolicy."""
from __future__ import annotations

import cfnlint.data.AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import SOURCE_URL, resources

#: Stateful types cfn-lint does not list (its StatefulResources.json is read below).
EXTRA_STATEFUL = {"AWS::ECR::Repository", "AWS::CodeArtifact::Repository", "AWS::CodeCommit::Repository"}


class StatefulResourcesRetained(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "Stateful resources declare DeletionPolicy and UpdateReplacePolicy"
    description = (
        "A bucket, key, table, repository, log group, queue or database must say what happens to its "
        "data on stack deletion and on replacement. cfn-lint's I3011 skips buckets (they cannot be "
        "deleted while not empty); this rule does not, and also covers repositories."
    )
    source_url = SOURCE_URL
    tags = ["resources", "deletionpolicy", "updatereplacepolicy", "cfn-delivery"]

    def __init__(self):
        super().__init__()
        spec = load_resource(cfnlint.data.AdditionalSpecs, "StatefulResources.json")
        self.stateful = set(spec["ResourceTypes"]) | EXTRA_STATEFUL

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn):
            if resource.get("Type") not in self.stateful:
                continue
            for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
                if attribute not in resource:
                    matches.append(RuleMatch(
                        ["Resources", logical_id],
                        f"{resource['Type']} {logical_id} has no {attribute}; set it (Retain for data you keep)",
                    ))
        return matches
