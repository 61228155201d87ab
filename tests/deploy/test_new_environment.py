"""Issue 11 acceptance: an environment `qa` added to delivery.yaml (one entry in `environments`, `qa`
before staging in an application's waves) deploys as a dry run against the local server, with no
Python change: the model is copied, qa is added, templates and parameter files are rendered into a
temporary project, the prerequisites qa's stacks import from other environments are deployed, and
``cfn-delivery --model <copy> deploy --env qa --all --dry-run`` checks every qa stack with a change set.

The tools environment is unprotected in the copy (the sample's tools still holds placeholder values,
and deploying a protected environment with one is refused: tests/deploy/test_model_deploy.py), and the
project gets a name of its own on the shared server.
Names (project, applications, stacks, the tools environment) come from the model."""
from __future__ import annotations

import difflib
import re
import uuid

import pytest

from generator import budget, cli, model, registry, render, stackmodel
from generator.deploy import plan
from tests.localstack_server import aws_env, client, localstack  # noqa: F401  (session fixture)
from tests.test_model import MODEL_TEXT, ORIGINAL, block, _with_qa

from .conftest import stack_or_none
from .test_real_stacks import LOCALSTACK_LIMITS

QA = "qa"


def _for_the_shared_server(text: str) -> str:
    """The tools environment unprotected, and a project name of this test's own: the session's server
    keeps what other tests deployed, and retained resources (log groups, keys) outlive their stacks."""
    start, end = block(text, f"  - name: {ORIGINAL.tools}\n")
    text = text[:start] + text[start:end].replace("protected: true", "protected: false") + text[end:]
    start, end = block(text, "project:\n")
    name = ORIGINAL.project.name[:10] + uuid.uuid4().hex[:5]
    return text[:start] + text[start:end].replace(f"  name: {ORIGINAL.project.name}\n", f"  name: {name}\n", 1) \
        + text[end:]


class Run:
    def __init__(self, root, path, endpoint, monkeypatch, capsys):
        self.root, self.path, self.endpoint, self.capsys = root, path, endpoint, capsys
        monkeypatch.setenv("CFN_DELIVERY_ROOT", str(root))
        monkeypatch.setenv(model.MODEL_ENV, str(path))  # what this test reads: the same model as the CLI's
        monkeypatch.chdir(root)
        for key, value in aws_env(endpoint).items():
            if key.startswith("AWS_") or "proxy" in key.lower():
                monkeypatch.setenv(key, value)

    def __call__(self, *argv):
        self.capsys.readouterr()
        code = cli.main(["--model", str(self.path), *argv])
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def deploy(self, *argv):
        return self("deploy", "--endpoint-url", self.endpoint, "--poll-seconds", "0.5", *argv)


def _checked(out: str, stack_name: str) -> str:
    """How the dry run handled one stack: 'change set' (created, shown, deleted), 'no changes', or ''."""
    if re.search(rf"dry run: .*; {re.escape(stack_name)} unchanged", out):
        return "change set"
    if f"no changes: {stack_name} " in out:
        return "no changes"
    return ""


@pytest.mark.parametrize("index", range(len(ORIGINAL.applications)),
                         ids=[f"{a.kind}-{i}" for i, a in enumerate(ORIGINAL.applications)])
def test_a_new_environment_dry_run_deploys_against_the_local_server(tmp_path, monkeypatch, capsys, localstack,  # noqa: F811
                                                                     index):
    app = ORIGINAL.applications[index]
    text = _with_qa(MODEL_TEXT, app.name)
    removed = [line for line in difflib.ndiff(MODEL_TEXT.splitlines(), text.splitlines()) if line.startswith("- ")]
    assert len(removed) == 1 and "waves:" in removed[0]  # one environment entry added, one waves list extended
    root = tmp_path / "project"
    root.mkdir()
    path = root / "delivery.yaml"
    path.write_text(_for_the_shared_server(text), encoding="utf-8")
    run = Run(root, path, localstack.endpoint_url, monkeypatch, capsys)

    code, out, err = run("templates")
    if code != 0 and "over the budget" in err:
        # a kind whose stacks cannot take one more wave within the template budget (generator/budget.py)
        with pytest.raises(budget.OverBudget):
            [render.rendered(cls) for cls in registry.stacks()]
        pytest.xfail(f"{app.kind} with {QA} renders over the template budget: {err.strip().splitlines()[-1]}")
    assert code == 0, err
    assert (root / "params" / QA).is_dir()
    code, out, err = run("params", "validate", "--env", QA)
    assert code == 0, err

    current = model.current()
    project = current.project.name
    stacks = [cls.name for cls in plan.order(QA)]
    assert "foundation" in stacks and any(cls.app is not None and cls.app.name == app.name
                                          for cls in plan.order(QA))

    # the prerequisites qa imports from other environments, deployed as the existing setup has them
    outside = []
    for stack in stacks:
        for node in registry.missing_chain(QA, stack, set()):
            if not node.startswith(f"{QA}:") and node not in outside:
                outside.append(node)
    assert outside, "qa's application stacks import from the tools environment"
    cfn = client("cloudformation", localstack.endpoint_url)
    for node in outside:
        env, _, stack = node.partition(":")
        if _stand_in(cfn, project, env, stack):
            continue
        code, out, err = run.deploy("--env", env, "--stack", stack, "--yes")
        if code != 0:
            # A prerequisite the local server cannot host (an ECS application's repository imports the shared
            # image scanner, whose CodeBuild resources are placeholders there): the known limitation, exactly.
            for text, why in LOCALSTACK_LIMITS:
                if text in err:
                    exact = next(line.strip() for line in err.splitlines() if text in line)
                    pytest.xfail(f"prerequisite {node}: {why}: {exact}")
        assert code == 0, f"{node}:\n{out}\n{err}"

    _dry_runs(run, cfn, project, stacks, outside)


def _stand_in(cfn, project, env, stack) -> bool:
    """A prerequisite LocalStack cannot create offline (tests/deploy/test_real_stacks.OFFLINE_UNSUPPORTED: the
    deployment history table) is replaced by a stack of the same name exporting the same names, so what
    imports it can be checked; True when one was created."""
    from generator.yamlio import load

    from .test_real_stacks import OFFLINE_UNSUPPORTED

    template = load(render.rendered(registry.get(stack))[1])
    if not {r["Type"] for r in template["Resources"].values()} & set(OFFLINE_UNSUPPORTED):
        return False
    exports = {key: {"Value": f"stand-in-{key}", "Export": {"Name": "%s-%s-%s-%s" % (project, env, stack, key)}}
               for key in template.get("Outputs", {})}
    body = {"Resources": {"StandIn": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}, "Outputs": exports}
    name = stackmodel.stack_name(project, env, stack)
    import json

    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    cfn.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return True


def _dry_runs(run, cfn, project, stacks, outside):
    # 1. qa from nothing: stacks that import only what exists get a change set (created, shown, deleted);
    # the others wait for qa stacks this run would deploy first, and say so
    code, out, err = run.deploy("--env", QA, "--all", "--dry-run")
    assert code == 0, f"{out}\n{err}"
    inside = set()
    for stack in stacks:
        name = stackmodel.stack_name(project, QA, stack)
        missing = registry.missing_chain(QA, stack, set(outside))
        if missing:
            assert all(node.startswith(f"{QA}:") for node in missing)
            assert f"== {QA}/{stack}: skipped in this dry run: needs {', '.join(missing)}, which this run " \
                   f"deploys first" in out, out
            inside.update(m.partition(":")[2] for m in missing)
        else:
            assert _checked(out, name) == "change set", f"{stack}:\n{out}"
        state = stack_or_none(cfn, name)
        assert state is None or state["StackStatus"] == "DELETE_COMPLETE", (name, state)  # a dry run leaves nothing
    assert inside, "some qa stack imports another qa stack"
    assert f"{len(stacks) - len([s for s in stacks if registry.missing_chain(QA, s, set(outside))])} of " \
           f"{len(stacks)} stack(s) checked" in out

    # 2. with qa's inner stacks deployed, the dry run checks every qa stack: a change set for each one
    # that differs, "no changes" for the ones that already run this template
    for stack in [s for s in stacks if s in inside]:
        code, out, err = run.deploy("--env", QA, "--stack", stack, "--yes")
        assert code == 0, f"{QA}:{stack}:\n{out}\n{err}"
    code, out, err = run.deploy("--env", QA, "--all", "--dry-run")
    assert code == 0, f"{out}\n{err}"
    assert "skipped" not in out
    for stack in stacks:
        expected = "no changes" if stack in inside else "change set"
        assert _checked(out, stackmodel.stack_name(project, QA, stack)) == expected, f"{stack}:\n{out}"



# -- a dry run of one whole environment (fake stacks: the behaviour, not the real templates) ---------

def _one_environment_project(project):
    from .conftest import topic_template
    from .test_model_deploy import _edge_template

    project.add_stack("base", environments=("dev",))
    project.add_stack("edge", environments=("dev",), requires=("base",))
    project.template("base", topic_template())
    project.template("edge", _edge_template())
    project.params("dev", "base")
    project.params("dev", "edge")


def test_a_dry_run_of_a_new_environment_skips_what_waits_for_its_own_stacks(project, cfn):
    _one_environment_project(project)
    result = project.run("--env", "dev", "--all", "--dry-run")
    assert result.code == 0, result.err
    assert "dry run: " in result.out and f"{project.stack_name('dev', 'base')} unchanged" in result.out
    assert "== dev/edge: skipped in this dry run: needs dev:base, which this run deploys first" in result.out
    assert "dry run done: 1 of 2 stack(s) checked with a change set; 1 skipped (edge)" in result.out
    assert stack_or_none(cfn, project.stack_name("dev", "base")) is None
    # --no-execute leaves base's CREATE change set for review: edge still waits for it
    result = project.run("--env", "dev", "--all", "--no-execute")
    assert result.code == 0, result.err
    assert "== dev/edge: skipped in this dry run: needs dev:base" in result.out
    assert "--no-execute run done: 1 of 2" in result.out
    # one stack asked for by name is not skipped: its missing prerequisite is an error naming it
    result = project.run("--env", "dev", "--stack", "edge", "--dry-run")
    assert result.code == 1
    assert "requires dev:base" in result.err and "cfn-delivery deploy --env dev --stack base" in result.err
