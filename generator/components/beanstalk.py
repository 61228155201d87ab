"""TEMPORARY STUB (lead's tree only; replaced by the wp/beanstalk branch at merge)."""
from awacs import elasticbeanstalk as eb
from troposphere import Sub
from .iam import allow


def deploy_grants(application_name, environment_name):
    return [allow([eb.UpdateEnvironment], [Sub("arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}:${AWS::AccountId}:environment/${A}/${E}", A=application_name, E=environment_name)])]
