"""Elastic Beanstalk grants: what the CodePipeline deploy action needs for one environment, and what
the environment's instances need — scoped statements instead of AWS's admin-class managed policies.

Why not the managed policies:
- ``AdministratorAccess-AWSElasticBeanstalk`` (what AWS suggests for the deploy action) "grants
  account administrative permissions" over every Beanstalk application and environment of the
  account: one deploy role could then change production while production waits for approval.
- ``AWSElasticBeanstalkWebTier`` (the documented instance profile policy) lets an instance write to
  every ``elasticbeanstalk-*`` bucket, so a staging instance can overwrite the bundles production
  deploys (and it now also grants Bedrock model invocation and Marketplace subscriptions).

The CodePipeline ElasticBeanstalk deploy action creates an application version from the input
artifact (copied into the account's Beanstalk storage bucket) and calls ``UpdateEnvironment``.
Beanstalk then carries out the deployment *with the caller's permissions*: it reads and updates the
environment's CloudFormation stack (``awseb-e-<id>-stack``; immutable deployments add a temporary
``awseb-e-<id>-immutable-stack``), suspends and resumes Auto Scaling processes, launches and
terminates instances through launch templates, and registers targets with the load balancer.
https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-Beanstalk.html
https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/AWSHowTo.iam.managed-policies.html
"""
from __future__ import annotations

from awacs import acm
from awacs import autoscaling as asg
from awacs import cloudformation as cfn
from awacs import cloudwatch as cw
from awacs import ec2
from awacs import elasticbeanstalk as eb
from awacs import elasticloadbalancing as elb
from awacs import iam as iam_actions
from awacs import logs, s3
from awacs.aws import ArnLike, Condition, StringEquals, StringLike
from troposphere import Sub

from .iam import allow, pass_role, unscoped

#: Tag Beanstalk puts on the resources of an environment (the stack, its instances, launch templates,
#: Auto Scaling groups): https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/using-features.tagging.html
ENVIRONMENT_TAG = "elasticbeanstalk:environment-name"
#: Prefix of every resource Beanstalk creates for an environment (stacks, groups, alarms, target groups).
MANAGED_PREFIX = "awseb-"
EC2_SERVICE = "ec2.amazonaws.com"


def _arn(service: str, resource: str, account: bool = True, **variables) -> Sub:
    return Sub("arn:${AWS::Partition}:%s:${AWS::Region}:%s:%s" % (service, "${AWS::AccountId}" if account else "",
                                                                    resource), **variables)


#: The account's Beanstalk storage bucket ``elasticbeanstalk-<region>-<account>`` (an ``Fn::Sub`` text).
STORAGE_BUCKET = "arn:${AWS::Partition}:s3:::elasticbeanstalk-${AWS::Region}-${AWS::AccountId}"


def storage_bucket_arn(objects: str = "") -> Sub:
    """The account's Beanstalk storage bucket (``objects``: a key pattern, e.g. ``"*"``, for object ARNs).
    Beanstalk creates it on first use."""
    return Sub(STORAGE_BUCKET + ("/" + objects if objects else ""))


def application_arn(application_name) -> Sub:
    return _arn("elasticbeanstalk", "application/${App}", App=application_name)


def application_versions_arn(application_name) -> Sub:
    return _arn("elasticbeanstalk", "applicationversion/${App}/*", App=application_name)


def environment_arn(application_name, environment_name) -> Sub:
    return _arn("elasticbeanstalk", "environment/${App}/${Env}", App=application_name, Env=environment_name)


def _is_pattern(name) -> bool:
    """Whether ``name`` (a string or an ``Fn::Sub`` text) is a name pattern (``*``: every application's)."""
    text = name.data["Fn::Sub"] if isinstance(name, Sub) else name
    if isinstance(text, list):
        text = text[0]
    return isinstance(text, str) and "*" in text


def _tagged(environment_name) -> Condition:
    """Only resources Beanstalk tagged as this environment's (a name pattern, the bootstrap's grant for every
    application of an environment: ``StringLike``; ``StringEquals`` would compare the ``*`` literally and match
    nothing: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_String)."""
    operator = StringLike if _is_pattern(environment_name) else StringEquals
    return Condition(operator({"aws:ResourceTag/" + ENVIRONMENT_TAG: environment_name}))


def deploy_grants(application_name, environment_name, instance_role_arn=None, service_role_arn=None) -> list:
    """Everything the CodePipeline ``ElasticBeanstalk`` deploy action needs to deploy to ONE environment.

    ``application_name`` / ``environment_name``: strings or intrinsics (e.g. the beanstalk-app and
    beanstalk-env exports), or names and name patterns by physical names (``stacks.beanstalk.named``: a wave in
    another account or Region, whose bootstrap deploy role holds these). ``instance_role_arn`` /
    ``service_role_arn``: the environment's roles (beanstalk-env exports ``InstanceRoleArn`` /
    ``ServiceRoleArn``); ``iam:PassRole`` is granted on them only, to EC2 and Beanstalk respectively.

    Use one deploy role per wave (the role the pipeline's deploy action assumes), each granted only its
    own environment::

        role.grant(deploy_grants(APP_EXPORTS.application_name.imported(),
                                 EXPORTS.environment_name.imported(env), ...))

    or simply ``role.grant(beanstalk.environment_deploy_grants(env))`` from ``generator.stacks.beanstalk``,
    which fills in the exports. Add the artifact bucket's ``grant_read()`` (the input artifact).

    Scope: Beanstalk API calls on this application and environment only. Beanstalk's own resources are
    named from the environment *id* (``awseb-e-<id>-...``), which no template can know; they are
    scoped by the ``awseb-`` prefix, and every call that changes an existing stack, instance or launch
    template additionally requires the ``elasticbeanstalk:environment-name`` tag of this environment.
    Describe calls without resource-level permissions are ``Resource: "*"`` with the reason.
    """
    app_arn = application_arn(application_name)
    versions = application_versions_arn(application_name)
    env_arn = environment_arn(application_name, environment_name)
    statements = [
        # The application version (from the input artifact) and the environment update.
        allow([eb.CreateApplicationVersion, eb.DescribeApplicationVersions, eb.DescribeApplications,
               eb.DescribeEvents], [app_arn, versions]),
        allow([eb.UpdateEnvironment, eb.DescribeEnvironments, eb.DescribeEnvironmentResources,
               eb.DescribeEnvironmentHealth, eb.DescribeInstancesHealth, eb.DescribeEvents,
               eb.DescribeConfigurationSettings], [env_arn]),
        unscoped([eb.CreateStorageLocation],
                 "elasticbeanstalk CreateStorageLocation returns the account storage bucket and has no resource"),
        # The bundle in the Beanstalk storage bucket (copied there by the action, read back by the
        # stack update); the bucket itself exists from the environment's creation.
        allow([s3.GetBucketLocation, s3.ListBucket], [storage_bucket_arn()]),
        allow([s3.GetObject, s3.GetObjectVersion, s3.PutObject], [storage_bucket_arn("*")]),
    ] + managed_resource_grants(environment_name)
    if instance_role_arn is not None:
        statements.append(pass_role([instance_role_arn], EC2_SERVICE))
    if service_role_arn is not None:
        statements.append(pass_role([service_role_arn], "elasticbeanstalk.amazonaws.com"))
    return statements


def describe_environment_grant(application_name, environment_name):
    """Read ONE environment's description (its running ``VersionLabel``): DescribeEnvironments takes the
    environment resource (Service Authorization Reference, cfn-lint's Policies.json), as in deploy_grants."""
    return allow([eb.DescribeEnvironments], [environment_arn(application_name, environment_name)])


def managed_resource_grants(environment_name) -> list:
    """The resources Beanstalk manages for an environment (its ``awseb-`` stacks, Auto Scaling groups,
    launch templates, instances, target groups, alarms), as a deployment or platform update changes
    them: read any Beanstalk-managed one, change only those tagged as this environment's (or, for
    resources a deployment creates, only ``awseb-`` names or launches through a launch template)."""
    stacks = _arn("cloudformation", "stack/%s*/*" % MANAGED_PREFIX)
    groups = _arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/%s*" % MANAGED_PREFIX)
    launch_templates = _arn("ec2", "launch-template/*")
    tagged = _tagged(environment_name)
    return [
        # The environment's stack: read any Beanstalk stack, change only this environment's.
        allow([cfn.DescribeStacks, cfn.DescribeStackResource, cfn.DescribeStackResources, cfn.DescribeStackEvents,
               cfn.GetTemplate, cfn.ListStackResources, cfn.CreateStack], [stacks]),
        allow([cfn.UpdateStack, cfn.CancelUpdateStack, cfn.ContinueUpdateRollback, cfn.DeleteStack], [stacks],
              condition=tagged),
        # Auto Scaling: Beanstalk suspends/resumes processes and resizes the group during a rolling
        # deployment, and creates/deletes a temporary group in an immutable one.
        unscoped([asg.DescribeAutoScalingGroups, asg.DescribeAutoScalingInstances, asg.DescribeScalingActivities,
                  asg.DescribeLaunchConfigurations, asg.DescribeNotificationConfigurations,
                  asg.DescribeScheduledActions, asg.DescribePolicies, asg.DescribeLifecycleHooks,
                  asg.DescribeLoadBalancerTargetGroups],
                 "autoscaling describe calls have no resource level permission"),
        allow([asg.SuspendProcesses, asg.ResumeProcesses, asg.UpdateAutoScalingGroup, asg.SetDesiredCapacity,
               asg.TerminateInstanceInAutoScalingGroup, asg.CreateAutoScalingGroup, asg.DeleteAutoScalingGroup,
               asg.AttachInstances, asg.DetachInstances, asg.CreateOrUpdateTags, asg.PutNotificationConfiguration,
               asg.PutScalingPolicy, asg.DeletePolicy], [groups]),
        # EC2: launch through launch templates only; change and terminate only this environment's.
        unscoped([ec2.DescribeInstances, ec2.DescribeInstanceStatus, ec2.DescribeImages, ec2.DescribeSecurityGroups,
                  ec2.DescribeSubnets, ec2.DescribeVpcs, ec2.DescribeLaunchTemplates,
                  ec2.DescribeLaunchTemplateVersions, ec2.DescribeAccountAttributes, ec2.DescribeAvailabilityZones],
                 "ec2 describe calls have no resource level permission"),
        # Launch templates carry no environment tag: CloudFormation's AWS::EC2::LaunchTemplate is not taggable
        # and Beanstalk propagates tags to them only with LaunchTemplateTagPropagationEnabled (off by default:
        # https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/applications-tagging-resources.launch-templates.html),
        # so a tag condition would refuse every platform update; scoped to this account and Region, as
        # AWSElasticBeanstalkRoleCore does.
        allow([ec2.CreateLaunchTemplate, ec2.CreateLaunchTemplateVersion, ec2.ModifyLaunchTemplate,
               ec2.DeleteLaunchTemplate, ec2.DeleteLaunchTemplateVersions], [launch_templates]),
        allow([ec2.RunInstances], [
            _arn("ec2", "instance/*"), _arn("ec2", "volume/*"), _arn("ec2", "network-interface/*"),
            _arn("ec2", "subnet/*"), _arn("ec2", "security-group/*"), launch_templates,
            _arn("ec2", "image/*", account=False),
        ], condition=Condition(ArnLike({"ec2:LaunchTemplate": launch_templates}))),
        allow([ec2.CreateTags], [
            _arn("ec2", "instance/*"), _arn("ec2", "volume/*"), _arn("ec2", "network-interface/*"), launch_templates,
        ], condition=Condition(StringEquals({"ec2:CreateAction": ["RunInstances", "CreateLaunchTemplate",
                                                                   "CreateLaunchTemplateVersion"]}))),
        allow([ec2.TerminateInstances], [_arn("ec2", "instance/*")], condition=tagged),
        # The load balancer: Beanstalk's target groups only.
        unscoped([elb.DescribeLoadBalancers, elb.DescribeTargetGroups, elb.DescribeTargetHealth, elb.DescribeListeners,
                  elb.DescribeRules, elb.DescribeLoadBalancerAttributes, elb.DescribeTargetGroupAttributes,
                  elb.DescribeTags],
                 "elasticloadbalancing describe calls have no resource level permission"),
        allow([elb.RegisterTargets, elb.DeregisterTargets],
              [_arn("elasticloadbalancing", "targetgroup/%s*/*" % MANAGED_PREFIX)]),
        # Scaling alarms the environment's stacks own.
        allow([cw.DescribeAlarms, cw.PutMetricAlarm, cw.DeleteAlarms],
              [_arn("cloudwatch", "alarm:%s*" % MANAGED_PREFIX)]),
    ]


def service_grants(application_name, environment_name, instance_role_arn) -> list:
    """The environment's Beanstalk service role, instead of ``AWSElasticBeanstalkEnhancedHealth`` and
    ``AWSElasticBeanstalkManagedUpdatesCustomerRolePolicy``.

    Those two policies are what AWS documents for the service role, but the least-privilege gate
    rejects them: the managed-updates one allows ``elasticbeanstalk:*`` and ``cloudformation:*`` on
    every Beanstalk resource of the account, ``iam:PassRole`` to *any* role, and security-group,
    address, ECS and RDS operations on ``*``. This is the subset a load-balanced web environment uses:
    enhanced health (describe the instances, group and targets; stream the health log) and managed
    platform updates (update this environment; change the resources Beanstalk manages for it, exactly
    as a deployment does; pass only the environment's instance role to EC2). Not granted, because this
    environment uses none of them: Elastic IPs (single-instance environments), SQS (worker tier),
    ECS (multi-container Docker), RDS (a coupled database), SNS (notifications).
    https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/iam-servicerole.html
    https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/environment-platform-update-managed.html
    """
    env_arn = environment_arn(application_name, environment_name)
    log_groups = Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/elasticbeanstalk/${Env}/*",
                     Env=environment_name)
    platforms = Sub("arn:${AWS::Partition}:elasticbeanstalk:${AWS::Region}::platform/*")
    return [
        # Managed platform updates of this environment.
        allow([eb.UpdateEnvironment, eb.DescribeEnvironments, eb.DescribeEnvironmentResources,
               eb.DescribeEnvironmentHealth, eb.DescribeInstancesHealth, eb.DescribeEvents,
               eb.DescribeConfigurationSettings, eb.DescribeConfigurationOptions, eb.ValidateConfigurationSettings,
               eb.DescribeEnvironmentManagedActions, eb.DescribeEnvironmentManagedActionHistory,
               eb.ApplyEnvironmentManagedAction, eb.ListTagsForResource], [env_arn]),
        allow([eb.DescribeApplications, eb.DescribeApplicationVersions, eb.DescribeEvents],
              [application_arn(application_name), application_versions_arn(application_name)]),
        allow([eb.DescribePlatformVersion, eb.ListPlatformVersions], [platforms]),
        pass_role([instance_role_arn], EC2_SERVICE),
        # Enhanced health: the health log stream and the instances' console output.
        allow([logs.CreateLogGroup, logs.PutRetentionPolicy, logs.DescribeLogStreams, logs.CreateLogStream,
               logs.PutLogEvents], [log_groups]),
        unscoped([ec2.DescribeAddresses], "ec2 DescribeAddresses has no resource level permission"),
        allow([ec2.GetConsoleOutput, ec2.DescribeInstanceAttribute], [_arn("ec2", "instance/*")],
              condition=_tagged(environment_name)),
        # The storage bucket: platform updates read the environment's files and bundle.
        allow([s3.GetBucketLocation, s3.ListBucket], [storage_bucket_arn()]),
        allow([s3.GetObject, s3.GetObjectVersion, s3.PutObject], [storage_bucket_arn("*")]),
    ] + managed_resource_grants(environment_name)


def instance_grants(application_name, environment_name) -> list:
    """What a web-tier instance of one environment needs (instead of ``AWSElasticBeanstalkWebTier``).

    - stream its logs (``aws:elasticbeanstalk:cloudwatch:logs``) to this environment's log groups
      ``/aws/elasticbeanstalk/<environment>/...`` (Beanstalk creates the groups);
    - report enhanced health (``elasticbeanstalk:PutInstanceStatistics``) for this environment;
    - read the Beanstalk storage bucket (platform hooks, environment files and the application bundle
      Beanstalk stages there), and write only requested log bundles under ``resources/environments/logs/``
      (tail/bundle logs) — never an application bundle.
    X-Ray and SSM are not granted: the environment enables neither the X-Ray daemon nor Session Manager.
    https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/iam-instanceprofile.html
    https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/AWSHowTo.cloudwatchlogs.html
    """
    log_groups = Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/elasticbeanstalk/${Env}/*",
                     Env=environment_name)
    return [
        allow([logs.CreateLogStream, logs.PutLogEvents, logs.DescribeLogStreams], [log_groups]),
        allow([eb.PutInstanceStatistics], [application_arn(application_name),
                                           environment_arn(application_name, environment_name)]),
        allow([s3.GetBucketLocation, s3.ListBucket], [storage_bucket_arn()]),
        allow([s3.GetObject, s3.GetObjectVersion], [storage_bucket_arn("*")]),
        allow([s3.PutObject], [storage_bucket_arn("resources/environments/logs/*")]),
    ]


def orchestration_grants(environment_name) -> list:
    """What Elastic Beanstalk does *with the caller's permissions* when CloudFormation creates, updates or
    terminates an ``AWS::ElasticBeanstalk::Environment`` (the CloudFormation execution role is that caller):
    the resource schema's handlers list only Beanstalk's own API calls, but Beanstalk then builds the
    environment's ``awseb-e-<id>-stack``, whose resources are created under the same credentials ("Elastic
    Beanstalk uses user permissions to launch all of the resources in an environment ... Elastic Beanstalk
    requires AWS CloudFormation permissions to orchestrate resource deployments and updates":
    https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/concepts-roles-user.html). AWS documents
    ``AdministratorAccess-AWSElasticBeanstalk`` for that caller; this is the subset a load-balanced web
    environment with an Application Load Balancer, enhanced health and streamed logs uses:

    - everything a deployment changes (:func:`managed_resource_grants`: the ``awseb-`` stack, Auto Scaling
      group, launch templates and instances, target registration, scaling alarms);
    - the security groups of the instances and the load balancer: created in this account and Region,
      changed and deleted only when Beanstalk tagged them as this environment's;
    - the load balancer, its target groups, listeners and rules: ``awseb-`` names only (the names
      CloudFormation generates inside ``awseb-e-<id>-stack``);
    - attaching the target group to the Auto Scaling group;
    - the environment's log groups ``/aws/elasticbeanstalk/<environment>/...`` (``StreamLogs``,
      ``HealthStreamingEnabled``);
    - the storage bucket's objects (Beanstalk stages the environment's template and configuration there);
    - the Auto Scaling and Elastic Load Balancing service-linked roles, which the first environment of an
      account creates.

    Not granted, because the environment uses none of them: Elastic IPs (single instance), SQS (worker
    tier), RDS (a coupled database), SNS (notifications), classic load balancers, ECS.
    ``environment_name`` is a name or a name pattern (``{project}-{env}-*``: every environment the
    execution role may manage). Not verified against AWS; a missing action fails the change set, it
    does not widen anything.
    """
    tagged = _tagged(environment_name)
    security_groups = _arn("ec2", "security-group/*")
    load_balancers = _arn("elasticloadbalancing", "loadbalancer/app/%s*/*" % MANAGED_PREFIX)
    target_groups = _arn("elasticloadbalancing", "targetgroup/%s*/*" % MANAGED_PREFIX)
    listeners = _arn("elasticloadbalancing", "listener/app/%s*/*" % MANAGED_PREFIX)
    rules = _arn("elasticloadbalancing", "listener-rule/app/%s*/*" % MANAGED_PREFIX)
    groups = _arn("autoscaling", "autoScalingGroup:*:autoScalingGroupName/%s*" % MANAGED_PREFIX)
    log_groups = Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/elasticbeanstalk/${Env}/*",
                     Env=environment_name)
    stacks = _arn("cloudformation", "stack/%s*/*" % MANAGED_PREFIX)
    return managed_resource_grants(environment_name) + [
        # The awseb- stack is created with Beanstalk's tags: TagResource is authorised apart, with the
        # cloudformation:CreateAction key naming the call that tags on creation
        # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html);
        # retagging an existing one only when it is already an environment's of this role (a tag is what
        # every conditioned statement trusts).
        allow([cfn.TagResource], [stacks],
              condition=Condition(StringEquals({"cloudformation:CreateAction": ["CreateStack", "UpdateStack"]}))),
        allow([cfn.TagResource, cfn.UntagResource], [stacks], condition=tagged),
        unscoped([cfn.ValidateTemplate], "cloudformation ValidateTemplate has no resource level permission"),
        # Auto Scaling: what the group's create and update handlers call beyond a deployment's set.
        allow([asg.DeleteTags, asg.EnableMetricsCollection, asg.DisableMetricsCollection,
               asg.DeleteNotificationConfiguration, asg.PutLifecycleHook, asg.DeleteLifecycleHook,
               asg.AttachTrafficSources, asg.DetachTrafficSources, asg.PutScheduledUpdateGroupAction,
               asg.DeleteScheduledAction], [groups], condition=tagged),
        unscoped([asg.DescribeTags, asg.DescribeTrafficSources, asg.DescribeAccountLimits,
                  asg.DescribeMetricCollectionTypes, asg.DescribeAdjustmentTypes, asg.DescribeScalingProcessTypes,
                  asg.DescribeTerminationPolicyTypes, asg.DescribeWarmPool, asg.DescribeInstanceRefreshes],
                 "autoscaling describe calls of environment creation have no resource level permission"),
        # Security groups: creating one names the VPC it goes into; tags are applied on creation.
        allow([ec2.CreateSecurityGroup], [security_groups, _arn("ec2", "vpc/*")]),
        allow([ec2.CreateTags], [security_groups],
              condition=Condition(StringEquals({"ec2:CreateAction": "CreateSecurityGroup"}))),
        allow([ec2.AuthorizeSecurityGroupIngress, ec2.AuthorizeSecurityGroupEgress, ec2.RevokeSecurityGroupIngress,
               ec2.RevokeSecurityGroupEgress, ec2.DeleteSecurityGroup], [security_groups], condition=tagged),
        unscoped([ec2.DescribeSecurityGroupRules, ec2.DescribeKeyPairs, ec2.DescribeInstanceTypes, ec2.DescribeVolumes,
                  ec2.DescribeAddresses],
                 "ec2 describe calls of environment creation have no resource level permission"),
        # The Application Load Balancer, its target groups, listeners and rules, all ``awseb-`` names. One
        # statement: each action applies only to its own resource type, so the union widens nothing.
        allow([elb.CreateLoadBalancer, elb.CreateTargetGroup, elb.CreateListener, elb.CreateRule, elb.AddTags,
               elb.RemoveTags, elb.ModifyLoadBalancerAttributes, elb.SetSecurityGroups, elb.SetSubnets,
               elb.ModifyTargetGroup, elb.ModifyTargetGroupAttributes, elb.ModifyListener, elb.ModifyRule,
               elb.DeleteLoadBalancer, elb.DeleteTargetGroup, elb.DeleteListener, elb.DeleteRule],
              [load_balancers, target_groups, listeners, rules]),
        allow([asg.AttachLoadBalancerTargetGroups, asg.DetachLoadBalancerTargetGroups], [groups]),
        # Streamed instance and health logs (DeleteOnTerminate false: never deleted by Beanstalk).
        allow([logs.CreateLogGroup, logs.PutRetentionPolicy, logs.TagResource, logs.DescribeLogGroups],
              [log_groups]),
        # The service-linked roles Auto Scaling and Elastic Load Balancing create on first use in an account
        # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/autoscaling-service-linked-role.html,
        # https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html).
        allow([iam_actions.CreateServiceLinkedRole],
              [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*")],
              condition=Condition(StringEquals({"iam:AWSServiceName": ["autoscaling.amazonaws.com",
                                                                       "elasticloadbalancing.amazonaws.com"]}))),
        # The storage bucket: CreateEnvironment creates it in a new account or Region (no application version
        # there yet) and stages the environment's template and configuration in it.
        allow([s3.CreateBucket, s3.PutBucketPublicAccessBlock, s3.PutBucketOwnershipControls], [storage_bucket_arn()]),
        allow([s3.GetObject, s3.GetObjectVersion, s3.PutObject, s3.DeleteObject], [storage_bucket_arn("*")]),
        # AWS-owned buckets of this Region: platform resources, and the sample application an environment
        # created without a version label starts with.
        allow([s3.GetObject], [Sub("arn:${AWS::Partition}:s3:::elasticbeanstalk-env-resources-${AWS::Region}/*"),
                               Sub("arn:${AWS::Partition}:s3:::elasticbeanstalk-samples-${AWS::Region}/*")]),
        # The HTTPS listener's certificate.
        allow([acm.DescribeCertificate], [_arn("acm", "certificate/*")]),
    ]
