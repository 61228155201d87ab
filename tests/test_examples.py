"""The example models under examples/models/ render completely: every stack, every parameter file
(no model value that reaches no stack, no required parameter left unset), every physical name within
its service's limit, and pipelines built from each application's waves."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator import budget, model, names, paramgen, registry, render

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples" / "models").glob("*.yaml"))


@pytest.fixture(params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    return model.load(request.param)


def test_there_are_example_models():
    assert len(EXAMPLES) >= 2


def test_example_renders_every_stack_and_parameter_file(example):
    stacks = registry.stacks(example)
    assert len({s.name for s in stacks}) == len(stacks)
    assert paramgen.problems(example) == [] and names.problems(example) == []
    for app in example.applications:
        own = [s for s in stacks if s.app is app]
        assert own, app.name
    files = paramgen.expected_files(example)
    for env in example.environment_names:
        assert any(path.parent.name == env for path in files), env


def test_example_pipelines_follow_their_waves(example):
    for cls in registry.stacks(example):
        if not cls.name.endswith("-pipeline") or cls.app is None:
            continue
        stages = [s["Name"] for s in render.rendered(cls)[0]["Resources"]["Pipeline"]["Properties"]["Stages"]]
        deploys = [s[len("Deploy"):] for s in stages if s.startswith("Deploy")]
        assert [d.lower() for d in deploys] == [w.replace("-", "") for w in cls.app.waves]
        for wave in cls.app.waves:
            label = wave.capitalize()
            approved = f"Approve{label}" in stages
            assert approved == example.environment(wave).protected
            if approved:
                assert stages.index(f"Approve{label}") == stages.index(f"Deploy{label}") - 1


def test_example_placeholders_are_listed(example):
    marked = example.placeholders()
    assert marked and all(v.placeholder and ":" in v.origin for v in marked)


def test_example_templates_meet_the_budget(example):
    """Rendering enforces the budget (``budget.enforce``); checked here explicitly as well."""
    for cls in registry.stacks(example):
        template, text = render.rendered(cls)
        assert budget.findings(cls.name, template, text) == []


# -- the delivery setups of issue 13, rendered like a user would ---------------------------------
from generator import cli  # noqa: E402
from generator.lint import gate, secret_values  # noqa: E402
from generator.stacks.delivery import waves  # noqa: E402
from tests.helpers import resources, statements  # noqa: E402
from tests.test_security_gate import TOOLS, findings, scanners  # noqa: E402,F401 (fixture)

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"
#: Each example is one setup of the issue: its source type, its application kind and the build
#: budget it must show (None: the template default). The names inside are read from the model.
SETUPS = {
    "web-beanstalk": ("s3", "beanstalk", None),
    "container-bluegreen": ("s3", "ecs-bluegreen", "5"),
    "container-github": ("connection", "ecs-rolling", None),
    "container-codecommit": ("codecommit", "ecs-bluegreen", None),
}
SOURCE_PROVIDERS = {"s3": "S3", "codecommit": "CodeCommit", "connection": "CodeStarSourceConnection"}
DEPLOY_PROVIDERS = {"beanstalk": "ElasticBeanstalk", "ecs-bluegreen": "CodeDeployToECS", "ecs-rolling": "ECS"}


def test_every_setup_has_its_example_and_says_what_it_is():
    assert set(SETUPS) <= {p.stem for p in EXAMPLES}
    for name, (source, kind, _) in SETUPS.items():
        [app] = model.load(MODELS / f"{name}.yaml").applications
        assert (app.source.type, app.kind) == (source, kind), name


@pytest.fixture(scope="session")
def rendered_examples(tmp_path_factory):
    """``{example: (model, folder)}``: every example rendered by the CLI into ``<tmp>/templates`` as a
    user would, with the parameter files its model generates in ``<tmp>/params`` (the security gate
    judges each template with the values each environment deploys it with)."""
    found = {}
    for path in EXAMPLES:
        root = tmp_path_factory.mktemp(path.stem)
        out = root / "templates"
        assert cli.main(["--model", str(path), "templates", "--out", str(out)]) == 0, path.name
        example = model.load(path)
        for param_file, text in paramgen.expected_files(example).items():
            target = root / "params" / param_file.parent.name / param_file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        found[path.stem] = (example, out)
    return found


def _template(folder, stack):
    from generator import yamlio

    return yamlio.load_file(folder / f"{stack}.yaml")


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_example_output_passes_cfn_lint(rendered_examples, name):
    # the gate's linter: what it finds per template text is remembered for the gate's run below
    _, folder = rendered_examples[name]
    files = sorted(folder.glob("*.yaml"))
    assert files
    found = [f"{f.name}: {m}" for f in files for m in gate.cfn_lint().matches(f.read_text(encoding="utf-8"))]
    assert found == []


def test_example_output_has_no_secret(rendered_examples):
    for _, folder in rendered_examples.values():
        for path in sorted(folder.glob("*.yaml")):
            assert secret_values.scan_file(path, path.name) == []


def test_examples_pass_the_security_gate(scanners, rendered_examples, capsys, tmp_path):
    """cfn-lint with own rules, checkov, cfripper, Guard, least privilege and secrets over every
    example's output in one pass (slow: checkov and cfripper start once)."""
    files = [str(p) for _, folder in rendered_examples.values() for p in sorted(folder.glob("*.yaml"))]
    code = gate.main(files + ["--filters-dir", str(tmp_path / "filters")])
    out = capsys.readouterr().out
    assert findings(out) == {tool: 0 for tool in TOOLS}, out
    assert code == 0, out


@pytest.mark.parametrize("name", sorted(SETUPS))
def test_example_pipeline_has_its_defining_shape(rendered_examples, name):
    example, folder = rendered_examples[name]
    source_type, kind, budget_minutes = SETUPS[name]
    for cls in registry.stacks(example):
        if getattr(cls, "build_class", None) is None:
            continue
        app, delivery = cls.app, cls.delivery
        template = _template(folder, delivery.pipeline_stack)
        pipeline = resources(template, "AWS::CodePipeline::Pipeline")["Pipeline"]["Properties"]
        stages = {s["Name"]: s for s in pipeline["Stages"]}
        names = [s["Name"] for s in pipeline["Stages"]]

        # source and what starts it
        # the application's source (and, with infrastructure: pipeline, the bundle: tests/test_infrastructure.py)
        [source] = [a for a in stages["Source"]["Actions"] if a["Name"] == "Source"]
        assert len(stages["Source"]["Actions"]) == (2 if app.infrastructure == "pipeline" else 1)
        assert source["ActionTypeId"]["Provider"] == SOURCE_PROVIDERS[source_type]
        rules = resources(template, "AWS::Events::Rule")
        if source_type == "connection":
            assert "PipelineSourceRule" not in rules and pipeline["PipelineType"] == "V2"
            [trigger] = pipeline["Triggers"]
            [push] = trigger["GitConfiguration"]["Push"]
            assert push["Branches"]["Includes"] == [{"Ref": "SourceBranchName"}]
            assert template["Parameters"]["SourceBranchName"]["Default"] == app.source.branch
        else:
            assert "Triggers" not in pipeline and source["Configuration"]["PollForSourceChanges"] is False
            pattern = rules["PipelineSourceRule"]["Properties"]["EventPattern"]
            assert pattern["source"] == ["aws." + source_type]

        # stages: build, checks in parallel, then per wave (approval) deploy and validation
        expected = ["Source", cls.build_stage, cls.checks_stage]
        for target in waves(example, app):
            expected += (["Approve" + target.label] if target.protected else []) + ["Deploy" + target.label]
        assert names == expected
        checks = {a["Name"] for a in stages[cls.checks_stage]["Actions"]}
        assert checks >= {action for action, _, _ in cls.build_class.check_actions} | {"SecurityScan"}
        assert len(checks) >= 2 and len({a["RunOrder"] for a in stages[cls.checks_stage]["Actions"]}) == 1
        for target in waves(example, app):
            # the deploy, then post-deploy validation (a CodeBuild smoke test) in the same stage
            # (after the target stacks' change sets when the pipeline deploys the infrastructure)
            actions = sorted([a for a in stages["Deploy" + target.label]["Actions"]
                              if a["ActionTypeId"]["Provider"] != "CloudFormation"], key=lambda a: a["RunOrder"])
            assert actions[0]["ActionTypeId"]["Provider"] == DEPLOY_PROVIDERS[kind]
            assert any(a["ActionTypeId"]["Provider"] == "CodeBuild" and a["RunOrder"] > actions[0]["RunOrder"]
                       for a in actions)
            if target.protected:
                [approve] = stages["Approve" + target.label]["Actions"]
                assert approve["ActionTypeId"]["Provider"] == "Manual" and approve["Configuration"]["CustomData"]
        assert any(e.protected for e in example.environments if e.name in app.waves), "an approval to show"

        # notifications of failures (an EventBridge rule on the pipeline's FAILED states, in whichever of
        # the application's stacks holds it)
        failed = [r["Properties"] for f in folder.glob("*.yaml") for r in resources(_template(folder, f.stem),
                                                                                       "AWS::Events::Rule").values()
                  if r["Properties"]["EventPattern"].get("source") == ["aws.codepipeline"]
                  and r["Properties"]["EventPattern"].get("detail", {}).get("state") == ["FAILED"]]
        assert failed and all(rule["Targets"] for rule in failed)

        # the build budget: every project of the build stack times out on the parameter the model sets
        build = _template(folder, delivery.build_stack)
        projects = resources(build, "AWS::CodeBuild::Project")
        assert projects and all(p["Properties"]["TimeoutInMinutes"] == {"Ref": "BuildTimeoutMinutes"}
                                for p in projects.values())
        build_cls = next(c for c in registry.stacks(example) if c.name == delivery.build_stack)
        deployed = paramgen.parameter_values(build_cls, example.tools)["BuildTimeoutMinutes"]
        assert deployed == (budget_minutes or str(build["Parameters"]["BuildTimeoutMinutes"]["Default"]))
        if budget_minutes:
            assert paramgen.document(build_cls, example.tools)["Parameters"]["BuildTimeoutMinutes"] == budget_minutes


def test_codecommit_example_reads_docker_hub_token_from_parameter_store(rendered_examples):
    example, folder = rendered_examples["container-codecommit"]
    [app] = example.applications
    build_cls = next(c for c in registry.stacks(example) if c.app is app and c.name.endswith("-build"))
    build = _template(folder, build_cls.name)
    image = resources(build, "AWS::CodeBuild::Project")["ImageBuildProject"]["Properties"]
    variables = {v["Name"]: v for v in image["Environment"]["EnvironmentVariables"]}
    assert variables["DOCKERHUB_TOKEN"]["Type"] == "PARAMETER_STORE"
    assert variables["DOCKERHUB_TOKEN"]["Value"] == {"Ref": "DockerHubTokenParameter"}
    assert paramgen.parameter_values(build_cls, example.tools)["DockerHubTokenParameter"] == \
        app.parameters["DockerHubTokenParameter"].value
    reads = [s for p in resources(build, "AWS::IAM::Policy").values()
             for s in statements(p["Properties"]["PolicyDocument"]) if "ssm:GetParameters" in s["Action"]]
    assert reads and all("*" not in s["Resource"] for s in reads)


def test_bluegreen_examples_roll_back_on_alarms(rendered_examples):
    for name, (_, kind, _) in SETUPS.items():
        if kind != "ecs-bluegreen":
            continue
        example, folder = rendered_examples[name]
        [app] = example.applications
        service = next(c for c in registry.stacks(example) if c.app is app and c.name.endswith("-service"))
        [group] = resources(_template(folder, service.name), "AWS::CodeDeploy::DeploymentGroup").values()
        props = group["Properties"]
        assert "DEPLOYMENT_STOP_ON_ALARM" in props["AutoRollbackConfiguration"]["Events"]
        assert props["AlarmConfiguration"]["Enabled"] is True and props["AlarmConfiguration"]["Alarms"]


# -- setup 2, serverless function (examples/models/serverless-function.yaml) ----------------------------
# Rendered with the CLI into a temporary folder and its defining shape asserted; cfn-lint (informational
# and own rules), the secrets scan and the security gate run over it with every other example's output
# (test_example_output_passes_cfn_lint, test_examples_pass_the_security_gate). Names are read from the model.
SERVERLESS = Path(__file__).resolve().parents[1] / "examples" / "models" / "serverless-function.yaml"


@pytest.fixture(scope="module")
def serverless(tmp_path_factory):
    from generator import cli

    out = tmp_path_factory.mktemp("serverless")
    assert cli.main(["--model", str(SERVERLESS), "templates", "--out", str(out)]) == 0
    loaded = model.load(SERVERLESS)
    [app] = [a for a in loaded.applications if a.kind == "lambda"]
    return loaded, app, out


def test_serverless_example_renders_every_stack(serverless):
    loaded, _, out = serverless
    assert sorted(p.stem for p in out.glob("*.yaml")) == sorted(s.name for s in registry.stacks(loaded))


def test_serverless_example_shape(serverless):
    """S3 source started by EventBridge, build, test ‖ scan, per wave a Lambda traffic-shifting deploy with
    alarm rollback and a smoke test, approval before protected waves, SNS notification of failures."""
    from generator import yamlio
    from tests.helpers import one, resources

    loaded, app, out = serverless
    pipeline_template = yamlio.load_file(out / f"{app.name}-pipeline.yaml")
    pipeline = one(pipeline_template, "AWS::CodePipeline::Pipeline")[1]["Properties"]
    stages = {s["Name"]: s for s in pipeline["Stages"]}
    [source] = stages["Source"]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "S3" and source["Configuration"]["PollForSourceChanges"] is False
    rules = resources(pipeline_template, "AWS::Events::Rule")
    assert rules["PipelineSourceRule"]["Properties"]["EventPattern"]["detail-type"] == ["Object Created"]
    assert {a["Name"] for a in stages["TestAndScan"]["Actions"]} == {"Test", "SecurityScan"}
    for wave in app.waves:
        label = wave.capitalize()
        deploy, smoke, record = stages[f"Deploy{label}"]["Actions"]
        assert deploy["ActionTypeId"]["Provider"] == "Lambda" and smoke["Name"] == "SmokeTest"
        assert record["ActionTypeId"]["Provider"] == "Lambda" and record["ActionTypeId"]["Category"] == "Invoke"
        assert set(deploy["Configuration"]) == {"FunctionName", "FunctionAlias", "DeployStrategy", "Alarms"}
        assert stages[f"Deploy{label}"]["OnFailure"] == {"Result": "ROLLBACK"}
        assert (f"Approve{label}" in stages) == loaded.environment(wave).protected
    assert any(loaded.environment(w).protected for w in app.waves)  # the example shows the approval
    operations = yamlio.load_file(out / f"{app.name}-operations.yaml")  # notifications: stacks/operations.py
    [failed] = [r for r in resources(operations, "AWS::Events::Rule").values()
                if r["Properties"]["Name"]["Fn::Sub"].endswith(f"-{app.name}-ops-failed")]
    assert failed["Properties"]["EventPattern"]["detail"] == {"state": ["FAILED"]}
    build = yamlio.load_file(out / f"{app.name}-build.yaml")
    assert build["Parameters"]["BuildTimeoutMinutes"]["Type"] == "Number"
