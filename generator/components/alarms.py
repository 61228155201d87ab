"""CloudWatch alarms that notify the environment's topic; load-balancer alarms CodeDeploy watches."""
from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, cloudwatch

from ..core.suppress import Suppression, suppress
from .alb import IpTargetGroup, LoadBalancer
from .sns import TopicReference

ALB_NAMESPACE = "AWS/ApplicationELB"
ALARM_NAME_SUPPRESSION = Suppression(
    "Alarm names follow {project}-{env}-{component} so operators, deployment groups and stage conditions find "
    "them; AlarmName is the alarm's only create-only property, so no other change replaces the alarm",
    guard=("CFN_NO_EXPLICIT_RESOURCE_NAMES",),
)


class _Alarm:
    """One alarm named ``{project}-{env}-{component}``; ALARM and OK go to ``topic``, missing data counts as not
    breaching (a target group with no traffic, the idle one of a blue/green pair, must not stop a deployment).
    ``measured``: what the alarm watches (a metric, or metric-math queries), between the name and the rest."""

    def __init__(self, stack, logical_id, component, description, measured: dict, *, threshold, evaluation_periods,
                 topic: TopicReference, comparison="GreaterThanOrEqualToThreshold"):
        self.alarm = stack.add(cloudwatch.Alarm(
            logical_id,
            AlarmName=Sub("${ProjectName}-${EnvironmentName}-%s" % component),
            AlarmDescription=description,
            **measured,
            EvaluationPeriods=evaluation_periods,
            DatapointsToAlarm=evaluation_periods,
            Threshold=threshold,
            ComparisonOperator=comparison,
            TreatMissingData="notBreaching",
            ActionsEnabled=True,
            AlarmActions=[topic.arn],
            OKActions=[topic.arn],
        ))
        suppress(self.alarm, ALARM_NAME_SUPPRESSION)
        self.name = Ref(self.alarm)
        self.arn = GetAtt(self.alarm, "Arn")


class MetricAlarm(_Alarm):
    """An alarm on one metric (``statistic`` over ``period`` seconds; a percentile such as ``p99`` is an
    ``ExtendedStatistic`` in CloudWatch's API)."""

    def __init__(self, stack, logical_id, component, description, *, namespace, metric, dimensions,
                 statistic, period=60, **settings):
        super().__init__(stack, logical_id, component, description, dict(
            Namespace=namespace,
            MetricName=metric,
            Dimensions=[cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dimensions],
            **({"ExtendedStatistic": statistic} if statistic.startswith("p") else {"Statistic": statistic}),
            Period=period,
        ), **settings)


def target_5xx_alarm(stack, load_balancer: LoadBalancer, threshold, evaluation_periods, topic, prefix=""):
    """5xx answers from the targets (both target groups: the dimension is the load balancer)."""
    return MetricAlarm(
        stack, "Target5xxAlarm", prefix + "target-5xx",
        "Targets answer HTTP 5xx; stops and rolls back a deployment",
        namespace=ALB_NAMESPACE, metric="HTTPCode_Target_5XX_Count",
        dimensions=[("LoadBalancer", load_balancer.full_name)],
        statistic="Sum", threshold=threshold, evaluation_periods=evaluation_periods, topic=topic,
    )


def unhealthy_hosts_alarm(stack, logical_id, component, load_balancer: LoadBalancer,
                          target_group: IpTargetGroup, evaluation_periods, topic):
    """Any unhealthy target in ``target_group`` for ``evaluation_periods`` minutes."""
    return MetricAlarm(
        stack, logical_id, component,
        "Unhealthy targets; stops and rolls back a deployment",
        namespace=ALB_NAMESPACE, metric="UnHealthyHostCount",
        dimensions=[("LoadBalancer", load_balancer.full_name), ("TargetGroup", target_group.full_name)],
        statistic="Maximum", threshold=1, evaluation_periods=evaluation_periods, topic=topic,
    )


def metric(metric_id, namespace, name, dimensions, stat, period=60, label=None) -> cloudwatch.MetricDataQuery:
    """One metric of a metric-math alarm (not returned: an expression combines it)."""
    query = cloudwatch.MetricDataQuery(
        Id=metric_id, ReturnData=False,
        MetricStat=cloudwatch.MetricStat(
            Metric=cloudwatch.Metric(Namespace=namespace, MetricName=name, Dimensions=[
                cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dimensions]),
            Period=period, Stat=stat,
        ),
    )
    if label:
        query.Label = label
    return query


class MathAlarm(_Alarm):
    """An alarm on ``expression`` over ``metrics`` (``MetricDataQuery`` from :func:`metric`)."""

    def __init__(self, stack, logical_id, component, description, *, expression, metrics, period=60, **settings):
        super().__init__(stack, logical_id, component, description, dict(
            Metrics=list(metrics) + [cloudwatch.MetricDataQuery(Id="result", Expression=expression,
                                                                ReturnData=True, Period=period)],
        ), **settings)
