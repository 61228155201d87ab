"""Operating the pipelines (stacks/operations.py, the stage conditions of stacks/delivery.py), asserted on the
committed templates of every application of the model and on a model written here: events routed by
audience with readable messages, the audit trail, alarms with their notifications, and promotion gated
by the previous wave's alarms with a bake time that rolls back. Names come from the model."""
import json
import re

import pytest

from generator import model, registry
from generator.components import eventrules
from generator.render import rendered
from generator.stacks import operations
from generator.stacks.delivery import waves
from tests.helpers import resources, statements, walk

MODEL = model.current()
APPS = list(MODEL.applications)


def imported(stack, key, env="${EnvironmentName}"):
    return {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-%s-%s-%s" % (env, stack, key)}}


NOTIFICATIONS = imported("foundation", "NotificationsTopicArn")
APPROVALS = imported("artifacts", "ApprovalsTopicArn")
AUDIT_LOG = {"Fn::Sub": ["arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Name}",
                         {"Name": imported("foundation", "AuditLogGroupName")}]}


def pipeline_cls(app, m=MODEL):
    return next(s for s in registry.stacks(m) if s.app is not None and s.app.name == app.name
                and getattr(s, "build_class", None) is not None and s.part == "pipeline")


def pipeline_arn(app, m=MODEL):
    return {"Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"
                       "${ProjectName}-${EnvironmentName}-%s" % pipeline_cls(app, m).delivery.component}


def rule_arn_text(name):
    return "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${ProjectName}-${EnvironmentName}-" + name


@pytest.fixture(params=APPS, ids=lambda a: a.name)
def app(request):
    return request.param


@pytest.fixture
def ops(app, templates):
    return templates[operations.stack_name(app)]


def rules_of(template):
    return {r["Properties"]["Name"]["Fn::Sub"].split("${EnvironmentName}-", 1)[1]: r["Properties"]
            for r in resources(template, "AWS::Events::Rule").values()}


def check_readable(target, *fields):
    """A target gets text, not the raw event: every placeholder is mapped, the named fields are present."""
    transformer = target["InputTransformer"]
    text = json.loads(transformer["InputTemplate"])
    assert isinstance(text, str)
    used = set(re.findall(r"<([a-z-]+)>", text))
    assert used <= set(transformer["InputPathsMap"]), used - set(transformer["InputPathsMap"])
    assert {"pipeline", "execution", "region"} <= used and set(fields) <= used
    assert "console.aws.amazon.com/codesuite/codepipeline/pipelines/<pipeline>/executions/<execution>" in text
    return text


# -- the stack ----------------------------------------------------------------------------------
def test_every_application_has_an_operations_stack_the_pipeline_depends_on(app):
    name = operations.stack_name(app)
    cls = registry.get(name)
    assert cls.environments == (MODEL.tools,)
    assert {"foundation", "artifacts"} <= set(registry.requires(cls))
    assert name in registry.requires(pipeline_cls(app)), "stage conditions import the alarms: deploy it first"


def test_rules_in_the_template_are_exactly_the_declared_ones(app, ops):
    assert sorted(rules_of(ops)) == sorted(name for name, _ in operations.rules(MODEL, app))


# -- notifications by audience ------------------------------------------------------------------
def test_failures_of_pipeline_stage_or_action_go_to_the_notifications_topic(app, ops):
    rule = rules_of(ops)[f"{app.name}-ops-failed"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.codepipeline"]
    assert pattern["detail-type"] == eventrules.PIPELINE_EVENTS
    assert pattern["resources"] == [pipeline_arn(app)]
    assert pattern["detail"] == {"state": ["FAILED"]}
    [target] = rule["Targets"]
    assert target["Arn"] == NOTIFICATIONS
    text = check_readable(target, "stage", "action")
    assert app.name in text


def test_approval_needed_goes_to_the_approvals_topic(app, ops):
    rule = rules_of(ops)[f"{app.name}-ops-approval"]
    assert rule["EventPattern"]["detail-type"] == [eventrules.ACTION_EXECUTION]
    assert rule["EventPattern"]["detail"] == {"state": ["STARTED"], "type": {"category": ["Approval"]}}
    assert rule["EventPattern"]["resources"] == [pipeline_arn(app)]
    [target] = rule["Targets"]
    assert target["Arn"] == APPROVALS
    check_readable(target, "stage", "action")


def test_protected_deployments_succeeded_and_rollbacks_go_to_notifications(app, ops):
    found = rules_of(ops)
    protected = [t for t in waves(MODEL, app) if t.protected]
    assert protected, "the sample promotes to a protected environment"
    for target in protected:
        rule = found[f"{app.name}-ops-release-{target.env}"]
        assert rule["EventPattern"]["detail-type"] == [eventrules.STAGE_EXECUTION]
        assert rule["EventPattern"]["detail"] == {"stage": ["Deploy" + target.label], "state": ["SUCCEEDED"]}
        [t] = rule["Targets"]
        assert t["Arn"] == NOTIFICATIONS
        assert target.env in check_readable(t, "stage")
    assert not [n for n in found if "-ops-release-" in n and n.rsplit("-", 1)[1] not in {t.env for t in protected}]
    rollback = found[f"{app.name}-ops-rollback"]
    assert rollback["EventPattern"]["detail"] == {
        "execution-trigger": {"trigger-type": ["AutomatedRollback", "ManualRollback"]}}
    [t] = rollback["Targets"]
    assert t["Arn"] == NOTIFICATIONS
    check_readable(t, "trigger", "state")


# -- audit trail --------------------------------------------------------------------------------
def test_every_pipeline_and_build_state_change_goes_to_the_audit_log(app, ops):
    found = rules_of(ops)
    pipeline = found[f"{app.name}-ops-audit"]
    # Every state of every execution, stage and action (approval results are action events): no detail filter.
    assert pipeline["EventPattern"] == {"source": ["aws.codepipeline"], "detail-type": eventrules.PIPELINE_EVENTS,
                                        "resources": [pipeline_arn(app)]}
    builds = found[f"{app.name}-ops-builds"]
    pattern = builds["EventPattern"]
    assert pattern["source"] == ["aws.codebuild"] and pattern["detail-type"] == [eventrules.BUILD_STATE]
    component = pipeline_cls(app).delivery.component
    assert pattern["detail"]["$or"] == [
        {"project-name": [{"prefix": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-" % component}}]},
        {"additional-information": {"initiator": [
            {"Fn::Sub": "codepipeline/${ProjectName}-${EnvironmentName}-%s" % component}]}},
    ]
    for rule in (pipeline, builds):
        [target] = rule["Targets"]
        # The record keeps the whole event (no transformer); the log group ARN without ":*" is the target form.
        assert target == {"Id": "AuditLog", "Arn": AUDIT_LOG}


# -- who may deliver: exactly these rules -------------------------------------------------------
def _eventbridge_statement(template, topic_policy):
    policy = resources(template, "AWS::SNS::TopicPolicy")[topic_policy]["Properties"]["PolicyDocument"]
    return [s for s in statements(policy) if s.get("Principal") == {"Service": "events.amazonaws.com"}]


def _rule_arns(audience):
    """The ARN patterns a policy admits for ``audience``: every application's rules of it match one."""
    return sorted(rule_arn_text("*" + suffix) for suffix in operations.AUDIENCE_SUFFIXES[audience])


def _matches(pattern, text):
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), text) is not None

def test_topics_admit_eventbridge_for_exactly_their_rules(templates):
    """Each topic admits EventBridge for the rules of its audience (name patterns that do not grow with the
    applications): every rule of that audience matches, no rule of another audience does."""
    every = [(name, to) for a in APPS for name, to in operations.rules(MODEL, a)]
    for template, policy, audience in ((templates["foundation"], "NotificationsTopicPolicy", operations.NOTIFICATIONS),
                                       (templates["artifacts"], "ApprovalsTopicPolicy", operations.APPROVALS)):
        [statement] = _eventbridge_statement(template, policy)
        arns = sorted(a["Fn::Sub"] for a in statement["Condition"]["ArnLike"]["aws:SourceArn"])
        assert arns == _rule_arns(audience) and arns
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        for name, to in every:
            admitted = any(_matches(a, rule_arn_text(name)) for a in arns)
            assert admitted == (to == audience), (name, to, audience)
    # Only EventBridge publishes approval requests.
    policy = resources(templates["artifacts"], "AWS::SNS::TopicPolicy")["ApprovalsTopicPolicy"]
    allowed = [s["Principal"] for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert allowed == [{"Service": "events.amazonaws.com"}]


def test_audit_log_admits_exactly_the_audit_rules_in_tools_only(templates):
    foundation = templates["foundation"]
    [policy] = resources(foundation, "AWS::Logs::ResourcePolicy").values()
    assert foundation["Conditions"][policy["Condition"]] == {"Fn::Equals": [{"Ref": "EnvironmentName"}, MODEL.tools]}
    document = json.loads(policy["Properties"]["PolicyDocument"]["Fn::Sub"])
    [statement] = document["Statement"]
    assert statement["Principal"] == {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == [
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${AuditLogGroup}:*"]
    patterns = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    assert sorted(patterns) == _rule_arns(operations.AUDIT)
    for a in APPS:
        for name, to in operations.rules(MODEL, a):
            assert any(_matches(p, rule_arn_text(name)) for p in patterns) == (to == operations.AUDIT), name
    # CloudWatch Logs accepts at most 5,120 characters; measured with every name at its longest.
    longest = policy["Properties"]["PolicyDocument"]["Fn::Sub"]
    for var, value in {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-44", "AWS::AccountId": "1" * 12,
                       "ProjectName": "p" * 16, "EnvironmentName": "e" * 8, "AuditLogGroup": "g" * 40}.items():
        longest = longest.replace("${%s}" % var, value)
    assert len(longest) <= 5120


# -- alarms -------------------------------------------------------------------------------------
def test_every_alarm_notifies_the_notifications_topic(templates):
    alarms = {(stack, k): r for stack, t in templates.items() for k, r in resources(t, "AWS::CloudWatch::Alarm").items()}
    assert alarms
    for (stack, logical_id), alarm in alarms.items():
        props = alarm["Properties"]
        topic = props["AlarmActions"]
        assert topic in ([NOTIFICATIONS], [{"Ref": "NotificationsTopic"}]), f"{stack}/{logical_id}: {topic}"
        assert props["ActionsEnabled"] is True and props["OKActions"] == topic


def test_build_alarms_failed_builds_and_duration_over_the_budget(app, ops):
    """Two alarms over every project of the build stack: any failed build, and the longest build against
    the budget (5 minutes unless the model says otherwise)."""
    alarms = resources(ops, "AWS::CloudWatch::Alarm")
    build = pipeline_cls(app).build_class
    projects = [imported(pipeline_cls(app).delivery.build_stack, f"{logical_id}Name")["Fn::ImportValue"]
                for logical_id in [build.build_project_id] + [lid for _, lid, _ in build.check_actions]]
    for logical_id, metric_name, expression, threshold in (
            ("BuildsFailedAlarm", "FailedBuilds", "SUM", 1),
            ("BuildDurationAlarm", "Duration", "MAX", {"Ref": "BuildBudgetMinutes"})):
        props = alarms[logical_id]["Properties"]
        *metrics, result = props["Metrics"]
        assert [m["MetricStat"]["Metric"]["MetricName"] for m in metrics] == [metric_name] * len(projects)
        assert [m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Fn::ImportValue"] for m in metrics] == projects
        assert result["Expression"].startswith(expression) and props["Threshold"] == threshold
    assert alarms["BuildDurationAlarm"]["Properties"]["Metrics"][-1]["Expression"].endswith("/ 60")
    assert ops["Parameters"]["BuildBudgetMinutes"]["Default"] == 5


def test_wave_alarms_watch_their_waves_target_and_are_exported(app, ops):
    alarms = resources(ops, "AWS::CloudWatch::Alarm")
    outputs = ops["Outputs"]
    for target in waves(MODEL, app):
        for alarm, export in zip(operations.WAVE_ALARMS[app.kind], operations.wave_alarms(app, target.env)):
            output = outputs[export.key]
            assert output["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s"
                                                % (operations.stack_name(app), export.key)}
            props = alarms[output["Value"]["Ref"]]["Properties"]
            assert props["AlarmName"]["Fn::Sub"].endswith(f"-{app.name}-{target.env}-{alarm.slug}")
            text = json.dumps(props)
            assert "${ProjectName}-%s-" % target.env in text, f"{export.key} does not watch {target.env}"
            assert not [e for e in app.waves if e != target.env and "${ProjectName}-%s-" % e in text]
            if app.kind == "beanstalk":
                assert props["MetricName"] == "EnvironmentHealth" and props["Threshold"] == 20
            else:
                metrics = ({m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}
                           if "Metrics" in props else {props["MetricName"]})
                assert metrics in ({"HTTPCode_Target_5XX_Count", "RequestCount"}, {"TargetResponseTime"})


def test_beanstalk_publishes_the_environment_health_its_alarm_reads(templates):
    for app in [a for a in APPS if a.kind == "beanstalk"]:
        env = next(r for r in resources(templates[f"{app.name}-env"], "AWS::ElasticBeanstalk::Environment").values())
        options = {(o["Namespace"], o["OptionName"]): o["Value"] for o in walk(env["Properties"]["OptionSettings"])
                   if isinstance(o, dict) and "Namespace" in o}
        system = "aws:elasticbeanstalk:healthreporting:system"
        assert options[(system, "SystemType")] == "enhanced"
        document = json.loads(options[(system, "ConfigDocument")])
        assert document["CloudWatchMetrics"]["Environment"]["EnvironmentHealth"] == 60


# -- promotion gated by alarms, bake time ------------------------------------------------------------
def _stages(template):
    [pipeline] = resources(template, "AWS::CodePipeline::Pipeline").values()
    return {s["Name"]: s for s in pipeline["Properties"]["Stages"]}


def _alarm_names(rules):
    for rule in rules:
        assert rule["RuleTypeId"] == {"Category": "Rule", "Owner": "AWS", "Provider": "CloudWatchAlarm", "Version": "1"}
        assert rule["Configuration"]["AlarmStates"] == "ALARM"
    return [r["Configuration"]["AlarmName"] for r in rules]


def check_conditions(m, app, template, roles):
    """``template``: the pipeline stack; ``roles``: its roles stack, which holds the pipeline role."""
    stages = _stages(template)
    targets = waves(m, app)
    ops_stack = operations.stack_name(app)
    wave_alarms = {t.env: [imported(ops_stack, e.key) for e in operations.wave_alarms(app, t.env)] for t in targets}
    watched = []
    for i, target in enumerate(targets):
        stage = stages["Deploy" + target.label]
        [bake] = stage["OnSuccess"]["Conditions"]
        assert bake["Result"] == "ROLLBACK"
        assert _alarm_names(bake["Rules"]) == wave_alarms[target.env]
        waits = {r["Configuration"].get("WaitTime") for r in bake["Rules"]}
        assert waits == ({str(target.bake_minutes)} if target.bake_minutes else {None})
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        if target.protected and i > 0:
            [entry] = stage["BeforeEntry"]["Conditions"]
            assert entry["Result"] == "FAIL"
            assert _alarm_names(entry["Rules"]) == wave_alarms[targets[i - 1].env]
        else:
            assert "BeforeEntry" not in stage
        watched += wave_alarms[target.env]
    # The pipeline role may describe exactly the alarms its rules read.
    policy = resources(roles, "AWS::IAM::Policy")["PipelineRolePolicy"]["Properties"]["PolicyDocument"]
    [describe] = [s for s in statements(policy) if s["Action"] == ["cloudwatch:DescribeAlarms"]]
    arns = sorted(r["Fn::Sub"] for r in describe["Resource"])
    assert arns == sorted("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
                          "${ProjectName}-${EnvironmentName}-%s" % operations.alarm_component(app, t.env, a)
                          for t in targets for a in operations.kind_alarms(app))
    assert len(watched) == len(arns)


def test_protected_waves_enter_on_the_previous_waves_alarms_and_every_wave_bakes(app, templates):
    d = pipeline_cls(app).delivery
    check_conditions(MODEL, app, templates[d.pipeline_stack], templates[d.roles_stack])


def test_the_sample_bakes_its_protected_wave():
    """bake_minutes comes from the model; the sample sets one on its protected environment."""
    assert [e.bake_minutes for e in MODEL.environments if e.protected and e.name != MODEL.tools] != [0]


# -- a model written here: another project, application and waves -----------------------------------
OTHER = """
project: {name: acme}
tools: ops
environments:
  - {name: ops, protected: true}
  - {name: qa}
  - {name: stage, bake_minutes: 3}
  - {name: live, protected: true, bake_minutes: 20}
applications:
  - {name: billing, kind: %s, waves: [stage, live]}
"""


@pytest.mark.parametrize("kind", sorted(operations.WAVE_ALARMS))
def test_conditions_follow_the_model_for_every_kind(kind):
    m = model.loads(OTHER % kind, "test.yaml")
    [app] = m.applications
    cls = pipeline_cls(app, m)
    template = rendered(cls)[0]
    roles = rendered(next(s for s in registry.stacks(m) if s.name == cls.delivery.roles_stack))[0]
    check_conditions(m, app, template, roles)
    stages = _stages(template)
    assert "BeforeEntry" not in stages["DeployStage"]
    assert "BeforeEntry" in stages["DeployLive"]
    ops = rendered(next(s for s in registry.stacks(m) if s.name == operations.stack_name(app)))[0]
    assert sorted(rules_of(ops)) == sorted(["billing-ops-failed", "billing-ops-approval", "billing-ops-rollback",
                                            "billing-ops-release-live",
                                            "billing-ops-audit", "billing-ops-builds"])
    assert not [v for v in walk(ops) if isinstance(v, str) and MODEL.project.name + "-" in v]


def test_bake_minutes_is_validated():
    with pytest.raises(model.ModelError) as err:
        model.loads(OTHER.replace("bake_minutes: 3", "bake_minutes: 90") % "beanstalk", "test.yaml")
    assert "bake_minutes" in str(err.value) and "0 to 60" in str(err.value)


# -- dashboard ----------------------------------------------------------------------------------
def test_dashboard_shows_builds_failures_deployments_and_targets(app, ops):
    [dashboard] = resources(ops, "AWS::CloudWatch::Dashboard").values()
    text, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(re.findall(r"\$\{(V\d+)\}", text)) == set(variables)
    widgets = json.loads(text)["widgets"]
    titles = " | ".join(w["properties"]["title"] for w in widgets)
    for part in ("Build duration", "Failed builds", "Pipeline failures", "Deployments per environment", "Alarms"):
        assert part in titles
    assert ("Environment health" in titles) if app.kind == "beanstalk" else ("Target 5xx" in titles
                                                                             and "response time" in titles)
    values = json.dumps(variables)
    for target in waves(MODEL, app):
        assert "${ProjectName}-%s-" % target.env in values
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(resources(ops, "AWS::CloudWatch::Alarm"))


def test_more_than_five_alarms_in_one_condition_is_refused_at_render():
    """CodePipeline takes 1-5 rules per condition (lint rule E9132 checks the templates)."""
    from generator.components.pipeline import MAX_CONDITION_RULES
    from generator.stacks.operations import WAVE_ALARMS

    assert max(len(alarms) for alarms in WAVE_ALARMS.values()) <= MAX_CONDITION_RULES
    cls = pipeline_cls(APPS[0])
    stack = cls()
    stack.create_parameters()
    stack.create_imports()
    from generator.components.pipeline import DeliveryPipeline

    pipeline = DeliveryPipeline(stack, cls.delivery.component, stack.artifact_bucket, stack.key)
    rules = [pipeline.alarm_rule(f"A{i}", f"alarm-{i}") for i in range(MAX_CONDITION_RULES + 1)]
    with pytest.raises(ValueError, match="6 rules in one condition"):
        pipeline.add_stage("DeployX", [], bake_rules=rules)
