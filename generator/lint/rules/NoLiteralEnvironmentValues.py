"""No literal region, account id or partition in resources, outputs or conditions."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import ACCOUNT_ID, PARTITION, REGION, SOURCE_URL, strings

#: Sections scanned. Parameters are the inputs (a default is the caller's choice) and Mappings
#: exist to hold per-region literals; Metadata and descriptions are prose. A region compared with
#: ``AWS::Region`` (``Fn::Equals``) is a per-region switch like a Mappings key, not a hard-coded value.
SECTIONS = ("Resources", "Outputs", "Conditions", "Rules")
PROSE_KEYS = {"Metadata", "Description"}


class NoLiteralEnvironmentValues(CloudFormationLintRule):
    id = "E9105"
    shortdesc = "No literal region, account id or partition"
    description = (
        "A template that spells us-east-1, a 12-digit account id or arn:aws: deploys correctly in one "
        "account, region and partition only. Use ${AWS::Region}, ${AWS::AccountId} and ${AWS::Partition}."
    )
    source_url = SOURCE_URL
    tags = ["portability", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for section in SECTIONS:
            body = cfn.template.get(section)
            if not isinstance(body, dict):
                continue
            for path, text in strings(body, [section]):
                if any(key in PROSE_KEYS for key in path if isinstance(key, str)):
                    continue
                if _region_switch(cfn.template, path, text):
                    continue
                for pattern, what, fix in (
                    (PARTITION, "partition", "${AWS::Partition}"),
                    (REGION, "region", "${AWS::Region}"),
                    (ACCOUNT_ID, "account id", "${AWS::AccountId}"),
                ):
                    found = pattern.search(text)
                    if found:
                        matches.append(RuleMatch(
                            path, f"literal {what} '{found.group(0)}' at {'/'.join(map(str, path))}; use {fix}",
                        ))
        return matches


def _region_switch(template, path, text) -> bool:
    """``Fn::Equals: [{Ref: AWS::Region}, "<region>"]``: the one literal region that is a switch."""
    if len(path) < 2 or path[-2] != "Fn::Equals" or not REGION.fullmatch(text):
        return False
    node = template
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, list) and len(node) == 2 and {"Ref": "AWS::Region"} in node
