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


# -- setup 2, serverless function (examples/models/serverless-function.yaml) ----------------------------
# Rendered with the CLI into a temporary folder, then cfn-lint (informational and own rules), the security
# gate, and its defining shape. Names are read from the model.
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


def test_serverless_example_passes_cfn_lint(serverless):
    from cfnlint.api import ManualArgs, lint

    from generator.lint import gate

    config = ManualArgs(include_checks=["I"], append_rules=[str(gate.RULES_DIR)], regions=gate.LINT_REGIONS)
    for path in sorted(serverless[2].glob("*.yaml")):
        assert [str(m) for m in lint(path.read_text(), config=config)] == [], path.name


def test_serverless_example_passes_the_security_gate(serverless, capsys, monkeypatch, tmp_path):
    import os
    import subprocess
    import sys

    from generator.lint import gate

    root = Path(__file__).resolve().parents[1]
    if not ((os.environ.get("CFN_DELIVERY_CHECKOV") or (root / ".venv-checkov" / "bin" / "checkov").exists())
            and (os.environ.get("CFN_DELIVERY_CFRIPPER") or (root / ".venv-scanners" / "bin" / "cfripper").exists())):
        subprocess.run(["make", "scanners", f"PYTHON={sys.executable}"], cwd=root, check=True, timeout=900)
    monkeypatch.chdir(root)
    code = gate.run(sorted(serverless[2].glob("*.yaml")), tmp_path / "filters")
    out = capsys.readouterr().out
    assert code == 0 and "security gate: passed (0 finding(s))" in out, out


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
        deploy, smoke = stages[f"Deploy{label}"]["Actions"]
        assert deploy["ActionTypeId"]["Provider"] == "Lambda" and smoke["Name"] == "SmokeTest"
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
