"""A Beanstalk environment with a fixed name chooses its platform by PlatformArn, not SolutionStackName."""
from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

DOC = "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-elasticbeanstalk-environment.html"


class BeanstalkPlatformByArn(CloudFormationLintRule):
    id = "E9110"
    shortdesc = "Beanstalk environments with a fixed name use PlatformArn, not SolutionStackName"
    description = (
        "SolutionStackName is a create-only property of AWS::ElasticBeanstalk::Environment: changing it "
        "replaces the environment, which CloudFormation cannot do while EnvironmentName is fixed (the new "
        "environment would need the old one's name), and a solution stack name stops resolving once "
        "Beanstalk supersedes that platform version. PlatformArn updates the environment in place."
    )
    source_url = DOC
    tags = ["resources", "elasticbeanstalk", "platform", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::ElasticBeanstalk::Environment"):
            props = properties(resource)
            if "EnvironmentName" in props and "SolutionStackName" in props:
                matches.append(RuleMatch(
                    ["Resources", logical_id, "Properties", "SolutionStackName"],
                    f"{logical_id} has a fixed EnvironmentName and picks its platform by SolutionStackName; "
                    "a platform change would need a replacement CloudFormation cannot make: use PlatformArn",
                ))
        return matches
