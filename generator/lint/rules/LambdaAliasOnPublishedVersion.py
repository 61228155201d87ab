"""A Lambda alias points at a published version of its template, never $LATEST."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

DOC = "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-LambdaDeploy.html"


class LambdaAliasOnPublishedVersion(CloudFormationLintRule):
    id = "E9122"
    shortdesc = "Lambda aliases point at a published version (AWS::Lambda::Version), not $LATEST"
    description = (
        "Traffic shifting moves an alias between published versions: CodePipeline's Lambda deploy action "
        "requires the alias to exist with a version behind it when it starts (that version is its rollback "
        "target), and an alias on $LATEST cannot carry a routing configuration "
        "(https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html). FunctionVersion must "
        "be !GetAtt <an AWS::Lambda::Version of this template>.Version."
    )
    source_url = DOC
    tags = ["resources", "lambda", "deployment", "cfn-delivery"]

    def match(self, cfn):
        versions = {logical_id for logical_id, _ in resources(cfn, "AWS::Lambda::Version")}
        matches = []
        for logical_id, resource in resources(cfn, "AWS::Lambda::Alias"):
            version = properties(resource).get("FunctionVersion")
            attribute = version.get("Fn::GetAtt") if isinstance(version, dict) else None
            if isinstance(attribute, str):
                attribute = attribute.split(".", 1)
            if isinstance(attribute, list) and len(attribute) == 2 and attribute[0] in versions \
                    and attribute[1] == "Version":
                continue
            matches.append(RuleMatch(
                ["Resources", logical_id, "Properties", "FunctionVersion"],
                f"{logical_id} points at {version!r}, not a published version of this template: publish one "
                "(AWS::Lambda::Version) and use its Version attribute",
            ))
        return matches
