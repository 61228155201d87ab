"""The dashboard of a ``lambda`` application (stacks/operations.py): per wave the function's ``live`` alias by
the dimensions Lambda publishes for an alias, thresholds from the function stack's parameters, the
function's alarms by name, and waves in other accounts or Regions read there. Asserted on the parsed
DashboardBody (its ``Fn::Sub`` text and variables) of every example model with a ``lambda`` application
and of a model written here; names come from the models."""
import json
from pathlib import Path
import re

import pytest

from generator import model, paramgen, registry
from generator.components import placement
from generator.components.lambda_function import ALIAS
from generator.lint.rules.DashboardBodyValid import VARIABLE, problems
from generator.render import rendered
from generator.stacks import lambda_function, operations
from generator.stacks.delivery import waves
from tests.helpers import resources
from tests.stacks.lambda_helpers import EXAMPLES, lambda_models, stack_named

MODELS = lambda_models()
APPS = [(m, app) for m in MODELS for app in m.applications if app.kind == "lambda"]


def ops_class(m, app):
    return stack_named(registry.stacks(m)[0], operations.stack_name(app))


def dashboard(m, app):
    """``(widgets, variables, template)`` of ``app``'s dashboard."""
    template = rendered(ops_class(m, app))[0]
    [board] = resources(template, "AWS::CloudWatch::Dashboard").values()
    text, variables = board["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(re.findall(r"\$\{(V\d+)\}", text)) == set(variables)  # every variable used, none missing
    assert problems(json.loads(VARIABLE.sub("0", text))) == []  # what CloudWatch checks at deploy (E9141)
    return json.loads(text)["widgets"], variables, template


def function_parameter(m, app, env, name):
    cls = stack_named(registry.stacks(m)[0], f"{app.name}-function")
    return int(paramgen.parameter_values(cls, env)[name])


def wave_widgets(widgets, env):
    return {w["properties"]["title"].split(": ", 1)[1]: w for w in widgets
            if w["type"] == "metric" and w["properties"]["title"].startswith(f"{env}: ")}


def test_an_example_model_has_a_lambda_application():
    assert APPS, f"no example model in {EXAMPLES[0].parent} has a lambda application"


@pytest.mark.parametrize("m,app", APPS, ids=lambda v: getattr(v, "name", None) or Path(v.path).stem)
def test_each_wave_shows_its_live_alias(m, app):
    widgets, _, _ = dashboard(m, app)
    titles = [w["properties"].get("title") for w in widgets]
    for part in ("Build duration", "Failed builds", "Pipeline failures", "Deployments per environment", "Alarms"):
        assert any(part in t for t in titles), part
    for target in waves(m, app):
        name = lambda_function.function_name(app, target.env)
        # the same name the function stack gives its function
        function_stack = rendered(stack_named(registry.stacks(m)[0], f"{app.name}-function"))[0]
        [fn] = resources(function_stack, "AWS::Lambda::Function").values()
        assert fn["Properties"]["FunctionName"] == {"Fn::Sub": lambda_function.function_name(app)}
        alias = ["AWS/Lambda", None, "FunctionName", name, "Resource", f"{name}:{ALIAS}"]
        row = wave_widgets(widgets, target.env)
        assert sorted(row) == ["concurrent executions", "duration (ms)", "invocations, errors, error rate (%)",
                               "throttles"]
        assert len({w["y"] for w in row.values()}) == 1 and sum(w["width"] for w in row.values()) == 24

        calls = row["invocations, errors, error rate (%)"]["properties"]["metrics"]
        by_id = {(entry[-1].get("id")): entry for entry in calls}
        for metric_id, metric in (("m1", "Invocations"), ("m2", "Errors")):
            assert by_id[metric_id][:-1] == [alias[0], metric] + alias[2:]
        [expression] = by_id["e1"]
        assert expression["expression"] == "IF(m1 > 0, 100 * m2 / m1, 0)" and expression["yAxis"] == "right"

        [throttles] = row["throttles"]["properties"]["metrics"]
        assert throttles[:-1] == [alias[0], "Throttles"] + alias[2:]
        assert row["throttles"]["properties"]["stat"] == "Sum"

        duration = row["duration (ms)"]["properties"]
        assert [e[:-1] for e in duration["metrics"]] == [[alias[0], "Duration"] + alias[2:]] * 2
        assert sorted(e[-1]["stat"] for e in duration["metrics"]) == ["p50", "p99"]
        assert duration["period"] == 60  # the alarm's period: the line is what the alarm compares with
        assert duration["annotations"]["horizontal"][0]["value"] == function_parameter(
            m, app, target.env, lambda_function.DURATION_THRESHOLD)

        concurrency = row["concurrent executions"]["properties"]
        [executions] = concurrency["metrics"]
        assert executions[:4] == ["AWS/Lambda", "ConcurrentExecutions", "FunctionName", name]
        assert concurrency["stat"] == "Maximum"
        reserved = function_parameter(m, app, target.env, lambda_function.RESERVED_CONCURRENCY)
        lines = concurrency.get("annotations", {}).get("horizontal", [])
        assert [line["value"] for line in lines] == ([reserved] if reserved else [])


@pytest.mark.parametrize("m,app", APPS, ids=lambda v: getattr(v, "name", None) or Path(v.path).stem)
def test_the_thresholds_follow_each_environments_parameters(m, app):
    """The example overrides the duration threshold and the reserved concurrency per environment: each
    wave's lines carry its own values, not one for all."""
    widgets, _, _ = dashboard(m, app)
    seen = {}
    for target in waves(m, app):
        row = wave_widgets(widgets, target.env)
        seen[target.env] = (row["duration (ms)"]["properties"]["annotations"]["horizontal"][0]["value"],
                            function_parameter(m, app, target.env, lambda_function.DURATION_THRESHOLD))
    assert all(shown == expected for shown, expected in seen.values())


@pytest.mark.parametrize("m,app", APPS, ids=lambda v: getattr(v, "name", None) or Path(v.path).stem)
def test_the_alarm_widget_shows_the_functions_alarms_by_name(m, app):
    widgets, variables, template = dashboard(m, app)
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    shown = alarm_widget["properties"]["alarms"]
    own = {json.dumps({"Fn::GetAtt": [logical_id, "Arn"]})
           for logical_id in resources(template, "AWS::CloudWatch::Alarm")}
    assert own == {json.dumps(variables[v[2:-1]]) for v in shown if v.startswith("${V")}
    function_stack = rendered(stack_named(registry.stacks(m)[0], f"{app.name}-function"))[0]
    alarm_names = sorted(a["Properties"]["AlarmName"]["Fn::Sub"]
                         for a in resources(function_stack, "AWS::CloudWatch::Alarm").values())
    expected = []
    for target in waves(m, app):
        if placement.placement(m, target.env).cross_account or placement.placement(m, target.env).cross_region:
            continue
        expected += ["arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"
                     + name.replace("${EnvironmentName}", target.env) for name in alarm_names]
    assert sorted(v for v in shown if not v.startswith("${V")) == sorted(expected)
    assert len(expected) == len(lambda_function.ALARM_KEYS) * len(waves(m, app))
    # below every other widget
    assert alarm_widget["y"] >= max(w["y"] + w["height"] for w in widgets if w is not alarm_widget)


@pytest.mark.parametrize("m,app", APPS, ids=lambda v: getattr(v, "name", None) or Path(v.path).stem)
def test_no_import_of_the_function_stacks(m, app):
    """Names by convention: a wave in another account has no export the tools stack could import."""
    _, variables, _ = dashboard(m, app)
    assert f"{app.name}-function-" not in json.dumps(variables)


ACROSS = """
project: {name: acme, region: eu-west-1}
tools: ops
environments:
  - {name: ops, account: "111111111111", protected: true}
  - {name: qa, account: "111111111111"}
  - {name: live, account: "222222222222", region: eu-central-1, protected: true}
applications:
  - name: pricing
    kind: lambda
    source: {type: s3, object_key: pricing/source.zip}
    waves: [qa, live]
    overrides:
      live: {ReservedConcurrency: 0}
"""


def test_a_wave_in_another_account_and_region_is_read_there():
    """The operations stack alone: the pipeline refuses such a lambda wave today (DeliveryPipelineStack)."""
    m = model.loads(ACROSS, "test.yaml")
    [app] = m.applications
    widgets, variables, template = dashboard(m, app)
    live, qa = wave_widgets(widgets, "live"), wave_widgets(widgets, "qa")
    where = placement.placement(m, "live")
    for widget in live.values():
        for entry in widget["properties"]["metrics"]:
            options = entry[-1]
            if "expression" in options:
                continue
            assert variables[options["accountId"][2:-1]] == {"Ref": where.account_parameter}
            assert variables[options["region"][2:-1]] == {"Ref": where.region_parameter}
    for widget in qa.values():
        assert not [e for e in widget["properties"]["metrics"] if "accountId" in e[-1] or "region" in e[-1]]
    # no reserved concurrency in live: no line
    assert "annotations" not in live["concurrent executions"]["properties"]
    # the parameter file fills the account and Region from the model
    values = paramgen.document(ops_class(m, app), m.tools)["Parameters"]
    assert values[where.account_parameter] == "222222222222" and values[where.region_parameter] == "eu-central-1"
    # alarms of the other account are not in this account's alarm widget
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert not [a for a in alarm_widget["properties"]["alarms"] if "-live-" in a]
    assert len([a for a in alarm_widget["properties"]["alarms"] if "-qa-pricing-" in a]) == 3
