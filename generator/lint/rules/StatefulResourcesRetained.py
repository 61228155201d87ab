"""Every stateful resource declares DeletionPolicy and UpdateReplacePolicy."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import SOURCE_URL, resources
from generator.stackmodel import is_stateful_resource


class StatefulResourcesRetained(CloudFormationLintRule):
    id = "E9101"
    shortdesc = "Stateful resources declare DeletionPolicy and UpdateReplacePolicy"
    description = (
        "A bucket, key, table, repository, log group, queue or database must say what happens to its "
        "data on stack deletion and on replacement. Stateful means what deploy's protection guard and "
        "review's data-loss flag mean (generator.stackmodel.STATEFUL_TYPES: cfn-lint's list of "
        "stateful resources plus repositories and others, or a DeletionPolicy that keeps the "
        "resource). cfn-lint's I3011 skips buckets (they cannot be deleted while not empty); this rule "
        "does not, and also covers repositories."
    )
    source_url = SOURCE_URL
    tags = ["resources", "deletionpolicy", "updatereplacepolicy", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn):
            if not is_stateful_resource(resource):
                continue
            for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
                if attribute not in resource:
                    matches.append(RuleMatch(
                        ["Resources", logical_id],
                        f"{resource.get('Type')} {logical_id} has no {attribute}; set it (Retain for data you keep)",
                    ))
        return matches
