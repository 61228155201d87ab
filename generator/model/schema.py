"""The JSON Schema of ``delivery.yaml`` (checked on load: ``model/quickcheck.py`` says whether it is
valid, ``jsonschema`` finds and words the errors when it may not be; a keyword added here that
quickcheck does not know makes every load take the jsonschema path, correct but slower).

Every object is closed (``additionalProperties: false``): an unknown key is an error, never
silently ignored. ``description`` doubles as the fix shown when a value is refused.
"""
from __future__ import annotations

from ..core.naming import ENVIRONMENT_PATTERN, PROJECT_PATTERN

#: Application kinds and what each deploys (the stacks live in ``generator.kinds``).
KINDS = {
    "beanstalk": "Elastic Beanstalk environment per wave, deployed by CodePipeline's ElasticBeanstalk action",
    "ecs-bluegreen": "ECS Fargate service behind an ALB, blue/green through CodeDeploy (CodeDeployToECS action)",
    "ecs-rolling": "ECS Fargate service behind an ALB with Amazon ECS's own deployments (rolling by default, "
                   "or ECS blue/green with DeploymentStrategy: BLUE_GREEN), CodePipeline's ECS action",
    "lambda": "Lambda function per wave with a live alias; CodePipeline's Lambda deploy action shifts traffic "
              "(canary, linear or all at once) and rolls back on the function's alarms",
}
#: Who deploys an application's target stacks (``docs/infrastructure.md``).
INFRASTRUCTURE = {
    "deploy": "cfn-delivery deploy updates the target stacks; the pipeline deploys the application only",
    "pipeline": "each wave's Deploy<Wave> stage updates the target stacks by CloudFormation change-set actions "
                "from the bundle cfn-delivery publish uploads, before the application deploy",
}
#: Where a pipeline's source comes from, and the keys each type takes besides ``type``
#: (``generator.components.sources`` builds them).
SOURCE_TYPES = {
    "s3": ("object_key",),
    "codecommit": ("repository", "branch"),
    "connection": ("provider", "repository", "branch", "file_paths"),
}
#: Providers a CodeStarSourceConnection action reads from through a connection (CodeConnections'
#: ``ProviderType`` values: https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html).
CONNECTION_PROVIDERS = ("Bitbucket", "GitHub", "GitHubEnterpriseServer", "GitLab", "GitLabSelfManaged")
#: An S3 source archive key.
OBJECT_KEY_PATTERN = r"^[A-Za-z0-9!_.*'()/-]+\.zip$"
#: CodeCommit repository names (CreateRepository: 1-100 of letters, digits, ., _ and -).
CODECOMMIT_REPOSITORY_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
#: ``owner/name`` (GitLab: ``group/subgroup/name``), as FullRepositoryId takes it.
CONNECTION_REPOSITORY_PATTERN = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$"
#: A Git branch name (no spaces, no ``..``, no leading ``-`` or ``/``; a subset of git check-ref-format).
BRANCH_PATTERN = r"^(?!.*\.\.)(?![-/])[A-Za-z0-9._/-]{1,250}(?<![./])$"
#: Applications are named like environments' stacks: they prefix stack and physical names.
APPLICATION_PATTERN = r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$"
TAG_KEY_PATTERN = r"^(?!aws:)[A-Za-z0-9 _.:/=+@-]{1,128}$"
PARAMETER_NAME_PATTERN = r"^[A-Za-z0-9]{1,255}$"

_tags = {
    "type": "object", "description": "a mapping of tag keys to string values (not starting with aws:)",
    "propertyNames": {"pattern": TAG_KEY_PATTERN},
    "additionalProperties": {"type": "string", "maxLength": 256},
}
_scalar = {"type": ["string", "number", "boolean"]}
_parameters = {
    "type": "object",
    "description": "a mapping of CloudFormation parameter names to values (a string, number, boolean or list)",
    "propertyNames": {"pattern": PARAMETER_NAME_PATTERN},
    "additionalProperties": {"anyOf": [_scalar, {"type": "array", "items": _scalar}]},
}
_env_name = {"type": "string", "pattern": ENVIRONMENT_PATTERN,
             "description": "an environment name: 2-8 lower-case letters or digits, starting with a letter"}
_env_list = {"type": "array", "items": _env_name, "uniqueItems": True}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["project", "environments", "applications"],
    "properties": {
        "project": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": PROJECT_PATTERN,
                         "description": "a project name: 3-16 lower-case letters, digits or hyphens, starting with a letter"},
                "cost_center": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9 ._:/=+@-]{0,127}$",
                                "description": "1-128 characters valid in a tag value (default: the project name)"},
                "region": {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-\d$",
                           "description": "a region name like eu-west-1"},
                "tags": _tags,
            },
        },
        "audit": {
            "type": "object", "additionalProperties": False,
            "description": "audit settings: source_trail",
            "properties": {
                "source_trail": {"type": "boolean",
                                 "description": "true or false (unquoted): a CloudTrail trail of uploads to the "
                                                "source bucket (stack source-trail)"},
            },
        },
        "tools": dict(_env_name, description="the name of the environment that hosts the pipelines "
                                             "(default tools); it must be listed under environments"),
        "environments": {
            "type": "array", "minItems": 2,
            "description": "the ordered environments: the tools environment and at least one target",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["name"],
                "properties": {
                    "name": _env_name,
                    "protected": {"type": "boolean", "description": "true or false (unquoted)"},
                    "account": {"type": "string", "pattern": r"^\d{12}$",
                                "description": "a 12-digit AWS account id, quoted"},
                    "region": {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-\d$",
                               "description": "a region name like eu-west-1"},
                    "profile": {"type": "string", "pattern": r"^[A-Za-z0-9_.@+=,-]{1,128}$",
                                "description": "an AWS CLI profile name"},
                    "organizational_units": {
                        "type": "array", "minItems": 1, "uniqueItems": True,
                        "description": "organizational unit ids whose accounts get this environment's bootstrap "
                                       "stack through a service-managed StackSet (docs/accounts.md)",
                        "items": {"type": "string", "pattern": r"^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$",
                                  "description": "an organizational unit id like ou-ab12-cd345678"}},
                    "cost_center": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9 ._:/=+@-]{0,127}$",
                                    "description": "1-128 characters valid in a tag value"},
                    "rollback_triggers": {
                        "type": "array", "maxItems": 5,
                        "description": "at most 5 CloudWatch alarm ARNs (CloudFormation's limit)",
                        "items": {"type": "string",
                                  "pattern": r"^arn:aws[a-z-]*:cloudwatch:[a-z]{2}(-[a-z]+)+-\d:\d{12}:alarm:\S{1,255}$",
                                  "description": "a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)"},
                    },
                    "monitoring_minutes": {"type": "integer", "minimum": 0, "maximum": 180,
                                           "description": "a whole number of minutes from 0 to 180"},
                    "bake_minutes": {"type": "integer", "minimum": 0, "maximum": 60,
                                     "description": "a whole number of minutes from 0 to 60 (the wave's bake time)"},
                    "tags": _tags,
                    "parameters": _parameters,
                },
            },
        },
        "applications": {
            "type": "array",
            "items": {
                "type": "object", "additionalProperties": False, "required": ["name", "kind", "waves"],
                "properties": {
                    "name": {"type": "string", "pattern": APPLICATION_PATTERN,
                             "description": "an application name: 2-20 lower-case letters, digits or hyphens, "
                                            "starting with a letter"},
                    "kind": {"enum": sorted(KINDS), "description": "one of " + ", ".join(sorted(KINDS))},
                    "source": {
                        "type": "object", "additionalProperties": False, "required": ["type"],
                        "properties": {
                            "type": {"enum": list(SOURCE_TYPES), "description": "one of " + ", ".join(SOURCE_TYPES)},
                            "object_key": {"type": "string", "pattern": OBJECT_KEY_PATTERN,
                                           "description": "an S3 object key ending in .zip"},
                            "repository": {"type": "string", "pattern": r"^[A-Za-z0-9_./-]{1,100}$",
                                           "description": "a CodeCommit repository name, or owner/name for a connection"},
                            "branch": {"type": "string", "pattern": BRANCH_PATTERN,
                                       "description": "a Git branch name like main or release/1.x"},
                            "provider": {"enum": list(CONNECTION_PROVIDERS),
                                         "description": "one of " + ", ".join(CONNECTION_PROVIDERS)},
                            "file_paths": {
                                "type": "array", "minItems": 1, "maxItems": 8, "uniqueItems": True,
                                "description": "1-8 file path globs (CodePipeline's limit per filter)",
                                "items": {"type": "string", "pattern": r"^[^\s]{1,255}$",
                                          "description": "a file path glob like src/** (no spaces)"},
                            },
                        },
                    },
                    "waves": dict(_env_list, minItems=1,
                                  description="the environments the pipeline promotes through, in order (at least one)"),
                    "infrastructure": {"enum": list(INFRASTRUCTURE),
                                       "description": "deploy (cfn-delivery deploy updates the target stacks) or "
                                                      "pipeline (each wave's change-set actions do, docs/infrastructure.md)"},
                    "extra_environments": dict(_env_list, description="environments that get the application's "
                                                                      "runtime stacks outside the pipeline"),
                    "parameters": _parameters,
                    "overrides": {
                        "type": "object", "description": "a mapping of environment names to parameter mappings",
                        "propertyNames": {"pattern": ENVIRONMENT_PATTERN},
                        "additionalProperties": _parameters,
                    },
                },
            },
        },
    },
}
