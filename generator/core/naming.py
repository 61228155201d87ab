"""The naming convention: ``{project}-{env}-{component}``, from parameters, never literals."""
from troposphere import Sub

PROJECT = "ProjectName"
ENVIRONMENT = "EnvironmentName"

# Environment names are short so that globally unique bucket names
# ``{project}-{env}-{component}-{account}-{region}`` stay within S3's 63 characters.
PROJECT_PATTERN = r"^[a-z][a-z0-9-]{1,14}[a-z0-9]$"
ENVIRONMENT_PATTERN = r"^[a-z][a-z0-9]{1,7}$"


def physical_name(component: str, env: str = "${EnvironmentName}") -> Sub:
    """``{project}-{env}-{component}`` for names that are unique per account and region."""
    return Sub("${ProjectName}-%s-%s" % (env, component))


def global_name(component: str) -> Sub:
    """Names that are unique worldwide (S3 buckets) also carry account and region."""
    return Sub("${ProjectName}-${EnvironmentName}-%s-${AWS::AccountId}-${AWS::Region}" % component)


def arn(service: str, resource: str, region: bool = True, account: bool = True) -> Sub:
    """An ARN in this stack's partition, region and account (``resource`` may use ``${...}``)."""
    return Sub(
        "arn:${AWS::Partition}:%s:%s:%s:%s"
        % (service, "${AWS::Region}" if region else "", "${AWS::AccountId}" if account else "", resource)
    )
