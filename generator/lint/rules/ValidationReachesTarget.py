"""A validation project whose target may be internal runs inside a VPC."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

#: The variable a validation (smoke test) project reads its target from (buildspecs/smoke-test.yml).
TARGET_VARIABLE = "TARGET_URL"
#: DNS names of internal application load balancers start with this.
INTERNAL_PREFIX = "internal-"


def _may_be_internal(value) -> bool:
    """The URL comes from another stack (its scheme is not known here) or names an internal load balancer."""
    if isinstance(value, str):
        return INTERNAL_PREFIX in value
    if isinstance(value, dict):
        if "Fn::ImportValue" in value or "Ref" in value:
            return True
        return any(_may_be_internal(v) for v in value.values())
    if isinstance(value, list):
        return any(_may_be_internal(v) for v in value)
    return False


class ValidationReachesTarget(CloudFormationLintRule):
    id = "E9107"
    shortdesc = "A validation project whose target may be internal has a VpcConfig"
    description = (
        "A CodeBuild project that validates a deployed target (environment variable TARGET_URL) cannot reach "
        "an internal load balancer from CodeBuild's own network: when the URL is imported from the target's "
        "stack, given by parameter, or names an internal load balancer, the project needs a VpcConfig (and "
        "its role the network-interface permissions CodeBuild uses), or validation fails after the deploy."
    )
    source_url = "https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html"
    tags = ["codebuild", "vpc", "validation", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CodeBuild::Project"):
            props = properties(resource)
            variables = (props.get("Environment") or {}).get("EnvironmentVariables") or []
            target = next((v.get("Value") for v in variables if isinstance(v, dict) and v.get("Name") == TARGET_VARIABLE),
                          None)
            if target is None or not _may_be_internal(target) or props.get("VpcConfig"):
                continue
            matches.append(RuleMatch(
                ["Resources", logical_id, "Properties"],
                f"CodeBuild project {logical_id} validates {TARGET_VARIABLE} that may be an internal load balancer "
                f"but has no VpcConfig; run it in the target's VPC (components.codebuild.VpcAccess)",
            ))
        return matches
