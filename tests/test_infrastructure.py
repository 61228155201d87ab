"""``infrastructure: pipeline``: each wave's Deploy stage updates the application's target stacks by
CloudFormation change sets from the bundle ``cfn-delivery publish`` uploads (docs/infrastructure.md).

Names come from the model (the example that opts in is found by its ``infrastructure`` key), never from
the sample."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from generator import cli, model, paramfile, publish, registry, render
from generator.components import infrastructure
from generator.stacks.delivery import waves
from tests.helpers import resources, statements

MODELS = Path(__file__).resolve().parents[1] / "examples" / "models"


def _opted_in():
    for path in sorted(MODELS.glob("*.yaml")):
        loaded = model.load(path)
        apps = [a for a in loaded.applications if a.infrastructure == "pipeline"]
        if apps:
            return path, loaded, apps[0]
    raise AssertionError("no example model sets infrastructure: pipeline")


PATH, MODEL, APP = _opted_in()


def _stack(attr):
    """The rendered template of the application's delivery stack ``attr`` (``pipeline_stack``, ...)."""
    cls = next(c for c in registry.stacks(MODEL) if c.app is APP and c.name == _delivery_name(attr))
    return render.rendered(cls)[0]


def _delivery_name(attr):
    cls = next(c for c in registry.stacks(MODEL) if c.app is APP and getattr(c, "delivery", None) is not None)
    return getattr(cls.delivery, attr)


def _stages():
    template = _stack("pipeline_stack")
    pipeline = resources(template, "AWS::CodePipeline::Pipeline")["Pipeline"]["Properties"]
    return {s["Name"]: s for s in pipeline["Stages"]}, template


def _targets(env):
    """The app's target stacks deployed in ``env`` (the kind's runtime stacks) and what each imports."""
    found = [c for c in registry.stacks(MODEL) if c.app is APP and getattr(c, "runtime_stack", False)
             and env in c.environments]
    assert found
    return found


def _bundle() -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(publish.bundle(MODEL, APP)))


def test_the_opt_in_is_in_the_model_and_defaults_to_deploy():
    assert APP.infrastructure == "pipeline"
    assert all(a.infrastructure == "deploy" for a in model.load(MODELS.parent.parent / "delivery.yaml").applications)


def test_each_wave_replaces_then_executes_every_target_stack_in_import_order_before_the_deploy():
    stages, _ = _stages()
    for target in waves(MODEL, APP):
        actions = stages["Deploy" + target.label]["Actions"]
        cfn = [a for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation"]
        others = [a for a in actions if a["ActionTypeId"]["Provider"] != "CloudFormation"]
        classes = _targets(target.env)
        replace, execute = {}, {}
        for action in cfn:
            config = action["Configuration"]
            stack = config["StackName"]["Fn::Sub"]
            assert stack.startswith("${ProjectName}-%s-" % target.env)
            name = stack[len("${ProjectName}-%s-" % target.env):]
            (replace if config["ActionMode"] == "CHANGE_SET_REPLACE" else execute)[name] = action
            assert config["ChangeSetName"] == infrastructure.CHANGE_SET_NAME
        assert set(replace) == set(execute) == {c.name for c in classes}
        for cls in classes:
            assert replace[cls.name]["RunOrder"] < execute[cls.name]["RunOrder"]
            # a stack importing another target stack's exports is prepared after that one is executed
            template = render.rendered(cls)[0]
            imported = json.dumps(template)
            for other in classes:
                if other is not cls and any(f"{other.name}-{key}" in imported for key in
                                            (render.rendered(other)[0].get("Outputs") or {})):
                    assert replace[cls.name]["RunOrder"] > execute[other.name]["RunOrder"], (cls.name, other.name)
        last = max(a["RunOrder"] for a in cfn)
        deploy = min(others, key=lambda a: a["RunOrder"])
        assert deploy["ActionTypeId"]["Category"] == "Deploy" and deploy["RunOrder"] == last + 1
        assert all(a["RunOrder"] > deploy["RunOrder"] for a in others if a is not deploy)  # smoke test, recorder


def test_deploy_leaves_to_the_pipeline_exactly_the_stacks_its_change_sets_update():
    """``pipeline_owner`` (what ``cfn-delivery deploy`` refuses or skips) is the set of stacks the pipeline's
    CHANGE_SET_REPLACE actions name, read from the rendered pipeline: no more, no less."""
    stages, _ = _stages()
    prepared = set()
    for target in waves(MODEL, APP):
        for action in stages["Deploy" + target.label]["Actions"]:
            if action["Configuration"].get("ActionMode") == "CHANGE_SET_REPLACE":
                stack = action["Configuration"]["StackName"]["Fn::Sub"]
                prepared.add((target.env, stack[len("${ProjectName}-%s-" % target.env):]))
    owned = {(env, cls.name) for cls in registry.stacks(MODEL) for env in cls.environments
             if infrastructure.pipeline_owner(cls, env) is not None}
    assert prepared and owned == prepared
    assert all(infrastructure.pipeline_owner(cls, env) is APP for env, name in owned
               for cls in registry.stacks(MODEL) if cls.name == name)
    # a target stack in an environment outside the waves stays with deploy
    outside = type("Target", (), {"app": APP, "runtime_stack": True, "environments": ("elsewhere",)})
    assert infrastructure.pipeline_owner(outside, "elsewhere") is None


def test_the_pipeline_needs_every_stack_it_updates_so_deploy_creates_them_first():
    """docs/infrastructure.md, "First deployment": the pipeline stack imports (transitively) every stack its
    change sets update, so those exist before the pipeline can, and deploy creates them (generator.deploy.owned)."""
    pipeline = next(c for c in registry.stacks(MODEL) if c.app is APP and c.name == _delivery_name("pipeline_stack"))
    needed, todo = set(), [(MODEL.tools, pipeline)]
    while todo:
        env, cls = todo.pop()
        for req in registry.requires(cls, env):
            req_env, _, req_stack = req.rpartition(":")
            node = (req_env or env, req_stack)
            if node not in needed:
                needed.add(node)
                todo.append((node[0], next(c for c in registry.stacks(MODEL) if c.name == req_stack)))
    owned = {(env, cls.name) for cls in registry.stacks(MODEL) for env in cls.environments
             if infrastructure.pipeline_owner(cls, env) is not None}
    assert owned and owned <= needed, owned - needed


def test_the_pipeline_and_its_roles_pass_cfn_lint_with_our_rules():
    """Zero cfn-lint findings (E9140 included) on the opted-in pipeline; the whole security gate over every
    example is tests/test_examples.py::test_examples_pass_the_security_gate."""
    from generator.lint import gate

    for attr in ("pipeline_stack", "roles_stack"):
        cls = next(c for c in registry.stacks(MODEL) if c.app is APP and c.name == _delivery_name(attr))
        assert [str(m) for m in gate.cfn_lint().matches(render.rendered(cls)[1])] == []


def test_the_imports_order_the_example_so_the_test_above_is_not_vacuous():
    for target in waves(MODEL, APP):
        steps = {s.name: s.step for s in infrastructure.wave_stacks(MODEL, APP, target.env)}
        assert len(set(steps.values())) > 1, steps


def test_change_set_actions_name_files_the_bundle_holds_and_run_under_the_execution_role():
    stages, _ = _stages()
    bundle = _bundle()
    names = set(bundle.namelist())
    used = set()
    for target in waves(MODEL, APP):
        for action in stages["Deploy" + target.label]["Actions"]:
            config = action["Configuration"]
            if config.get("ActionMode") != "CHANGE_SET_REPLACE":
                continue
            assert action["InputArtifacts"][0] == {"Name": infrastructure.ARTIFACT}
            for key in ("TemplatePath", "TemplateConfiguration"):
                artifact, _, path = config[key].partition("::")
                assert artifact == infrastructure.ARTIFACT and path in names
                used.add(path)
            # the environment's execution role (its bootstrap stack's), by name
            assert _sub(config["RoleArn"]).endswith(f"role/${{ProjectName}}-{target.env}-bootstrap-cfn-exec")
            # a target creating named IAM resources needs the capability (an absent one fails the change set)
            names_iam = any(r["Type"].startswith("AWS::IAM::") and "RoleName" in r.get("Properties", {})
                            for r in render.rendered(_cls(path))[0]["Resources"].values())
            assert ("CAPABILITY_NAMED_IAM" in config.get("Capabilities", "")) == names_iam, path
            # the action runs with the wave's deploy role
            assert action["RoleArn"]["Fn::ImportValue"]["Fn::Sub"].endswith(f"Deploy{target.label}RoleArn")
    assert used == names  # exactly what the actions read


def test_release_parameters_come_from_the_release_being_deployed():
    """A target parameter the kind takes from the release (ECS: ``ImageTag``) is overridden from the build's
    artifact, so a task definition the change set registers runs the image this run deploys."""
    pipeline_cls = next(c for c in registry.stacks(MODEL) if c.app is APP and c.name == _delivery_name("pipeline_stack"))
    release = pipeline_cls.release_parameters
    assert release, "the opted-in example's kind takes no parameter from the release"
    stages, _ = _stages()
    produced = {o["Name"] for s in stages.values() for a in s["Actions"] for o in a.get("OutputArtifacts", [])}
    seen = set()
    for target in waves(MODEL, APP):
        for action in stages["Deploy" + target.label]["Actions"]:
            config = action["Configuration"]
            if config.get("ActionMode") != "CHANGE_SET_REPLACE":
                continue
            declared = set(render.rendered(_cls(config["TemplatePath"].partition("::")[2]))[0]["Parameters"])
            wanted = {name: source for name, source in release.items() if name in declared}
            if not wanted:
                assert "ParameterOverrides" not in config
                continue
            overrides = json.loads(config["ParameterOverrides"])
            assert overrides == {name: {"Fn::GetParam": list(source)} for name, source in wanted.items()}
            inputs = {a["Name"] for a in action["InputArtifacts"]}
            assert {source[0] for source in wanted.values()} <= inputs <= produced
            seen |= set(wanted)
    assert seen == set(release)


def _cls(bundle_path):
    name = Path(bundle_path).stem
    return next(c for c in registry.stacks(MODEL) if c.name == name)


def test_the_bundle_is_the_rendered_templates_and_template_configurations():
    bundle = _bundle()
    for info in bundle.infolist():
        assert info.date_time == publish.FIXED_TIME
    assert bundle.namelist() == sorted(bundle.namelist())
    for target in waves(MODEL, APP):
        for cls in _targets(target.env):
            template, text = render.rendered(cls)
            assert bundle.read(infrastructure.template_path(cls.name)).decode() == text
            config = json.loads(bundle.read(infrastructure.configuration_path(target.env, cls.name)))
            # CodePipeline's template configuration format
            assert set(config) <= {"Parameters", "Tags", "StackPolicy"}
            assert set(config["Parameters"]) <= set(template["Parameters"])
            assert all(isinstance(v, str) for v in config["Parameters"].values())
            assert config["Parameters"]["EnvironmentName"] == target.env
            assert config["Tags"]["Environment"] == target.env and config["Tags"]["Project"] == MODEL.project.name
            assert ("StackPolicy" in config) == MODEL.environment(target.env).protected
    assert publish.bundle(MODEL, APP) == publish.bundle(MODEL, APP)  # deterministic bytes


def test_deploy_roles_may_change_exactly_their_waves_stacks_and_pass_exactly_their_execution_role():
    roles = _stack("roles_stack")
    for target in waves(MODEL, APP):
        role = resources(roles, "AWS::IAM::Role")[f"Deploy{target.label}Role"]
        assert role
        # every statement the role holds: its policies and the shared ones attached to it
        found = [s for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
                 for r in resources(roles, kind).values()
                 if {"Ref": f"Deploy{target.label}Role"} in r["Properties"].get("Roles", [])
                 for s in statements(r["Properties"]["PolicyDocument"])]
        cfn = [s for s in found if any(str(a).startswith("cloudformation:") for a in _list(s["Action"]))]
        assert cfn
        expected = {f"stack/${{ProjectName}}-{target.env}-{c.name}/*" for c in _targets(target.env)}
        for statement in cfn:
            arns = {"stack/" + r["Fn::Sub"].split(":stack/", 1)[1] for r in _list(statement["Resource"])}
            assert arns == expected, arns
        changes = [s for s in cfn if "cloudformation:ExecuteChangeSet" in _list(s["Action"])]
        assert changes and all(s["Condition"]["StringEquals"]["cloudformation:ChangeSetName"]
                               == infrastructure.CHANGE_SET_NAME for s in changes)
        passes = [s for s in found if "iam:PassRole" in _list(s["Action"])
                  and s["Condition"]["StringEquals"]["iam:PassedToService"] == "cloudformation.amazonaws.com"]
        assert len(passes) == 1
        [arn] = _list(passes[0]["Resource"])
        assert _sub(arn).endswith(f"role/${{ProjectName}}-{target.env}-bootstrap-cfn-exec")


def _sub(value) -> str:
    """The text of a ``Fn::Sub`` (short or with its variables)."""
    text = value["Fn::Sub"]
    return text[0] if isinstance(text, list) else text


def _list(value):
    return value if isinstance(value, list) else [value]


def test_the_bundle_upload_starts_the_pipeline_without_polling():
    stages, template = _stages()
    [bundle] = [a for a in stages["Source"]["Actions"] if a["Name"] == infrastructure.ARTIFACT]
    assert bundle["Configuration"]["S3ObjectKey"] == APP.infrastructure_key
    assert bundle["Configuration"]["PollForSourceChanges"] is False
    rules = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()]
    assert any(r["EventPattern"].get("detail", {}).get("object", {}).get("key") == [APP.infrastructure_key]
               for r in rules)
    roles = _stack("roles_stack")
    trigger = resources(roles, "AWS::IAM::Role")["PipelineTriggerRole"]["Properties"]["AssumeRolePolicyDocument"]
    arns = json.dumps(statements(trigger)[0]["Condition"])
    assert f"-{infrastructure.RULE_SUFFIX}" in arns and "-source" in arns


# -- bad input: one line, exit 2 -------------------------------------------------------------------------
def _model_text(old, new):
    text = PATH.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("value", ["terraform", "true", "[pipeline]"])
def test_bad_infrastructure_value_is_one_line_exit_2(tmp_path, capsys, value):
    path = tmp_path / "model.yaml"
    path.write_text(_model_text("    infrastructure: pipeline\n", f"    infrastructure: {value}\n"))
    code = cli.main(["--model", str(path), "templates", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "infrastructure" in err and "model.yaml" in err, err
    assert "deploy" in err and "pipeline" in err  # the fix: the values it takes


def test_publish_refuses_an_application_that_did_not_opt_in(tmp_path, capsys):
    sample = MODELS.parent.parent / "delivery.yaml"
    app = model.load(sample).applications[0].name
    code = cli.main(["--model", str(sample), "publish", "--app", app, "--out", str(tmp_path / "b.zip")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "infrastructure: pipeline" in err
    code = cli.main(["--model", str(PATH), "publish", "--app", "no-such-app", "--out", str(tmp_path / "b.zip")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and APP.name in err


# -- publish against S3 (moto, in-process) -----------------------------------------------------------------
@pytest.fixture
def aws(monkeypatch):
    moto = pytest.importorskip("moto")
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        import boto3

        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def project_root(tmp_path, monkeypatch):
    """A project rendered from the opted-in example with its placeholders replaced (publish refuses them in a
    protected wave, like deploy), templates/ and params/ as `templates` writes them."""
    real = tmp_path / "delivery.yaml"
    real.write_text(PATH.read_text().replace("!placeholder ", ""))
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    assert cli.main(["--model", str(real), "templates"]) == 0
    return real


class _Clients:
    """moto's S3; CloudFormation's DescribeStacks stubbed (moto's CloudFormation needs extras we lack)."""

    def __init__(self, session, outputs):
        from botocore.stub import Stubber

        self.s3 = session.client("s3")
        self.cfn = session.client("cloudformation")
        self.stubber = Stubber(self.cfn)
        name = f"{MODEL.project.name}-{MODEL.tools}-artifacts"
        self.stubber.add_response("describe_stacks", {"Stacks": [{
            "StackName": name, "CreationTime": "2026-01-01T00:00:00Z", "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}, {"StackName": name})
        self.stubber.activate()


def _publish_args(**extra):
    import argparse

    values = dict(app=APP.name, out=None, bucket=None, region=None, profile=None, endpoint_url=None,
                  skip_stale_check=False)
    values.update(extra)
    return argparse.Namespace(**values)


def test_publish_uploads_the_bundle_where_the_pipeline_reads_it(aws, project_root, capsys, monkeypatch):
    bucket = "source-bucket"
    clients = _Clients(aws, {"SourceBucketName": bucket})
    clients.s3.create_bucket(Bucket=bucket)
    clients.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv(model.MODEL_ENV, str(project_root))
    # the bucket comes from the tools artifacts stack's output, as deployed
    assert publish.run(_publish_args(), clients) == 0
    clients.stubber.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert f"s3://{bucket}/{APP.infrastructure_key}" in out
    body = clients.s3.get_object(Bucket=bucket, Key=APP.infrastructure_key)["Body"].read()
    assert body == publish.bundle(MODEL, APP)
    # the command line, bucket given: same model, same bytes, a new version with identical content
    assert cli.main(["--model", str(project_root), "publish", "--app", APP.name, "--bucket", bucket]) == 0
    versions = clients.s3.list_object_versions(Bucket=bucket, Prefix=APP.infrastructure_key)["Versions"]
    assert len(versions) == 2 and len({v["ETag"] for v in versions}) == 1
    # what the zip holds is what the pipeline's actions read
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(archive.namelist()) == sorted(publish.entries(MODEL, APP))


def test_publish_refuses_stale_committed_files(aws, project_root, capsys):
    aws.client("s3").create_bucket(Bucket="source-bucket")
    cls = _targets(APP.waves[0])[0]
    path = project_root.parent / "templates" / f"{cls.name}.yaml"
    path.write_text(path.read_text() + "# edited by hand\n")
    capsys.readouterr()
    code = cli.main(["--model", str(project_root), "publish", "--app", APP.name, "--bucket", "source-bucket"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"templates/{cls.name}.yaml" in err, err
    assert "KeyCount" not in err and aws.client("s3").list_objects_v2(Bucket="source-bucket")["KeyCount"] == 0


def test_publish_refuses_placeholders_in_a_protected_wave(aws, tmp_path, monkeypatch, capsys):
    protected = [w for w in APP.waves if MODEL.environment(w).protected]
    assert protected and MODEL.placeholders()
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    assert cli.main(["--model", str(PATH), "templates"]) == 0
    aws.client("s3").create_bucket(Bucket="source-bucket")
    capsys.readouterr()
    code = cli.main(["--model", str(PATH), "publish", "--app", APP.name, "--bucket", "source-bucket"])
    err = capsys.readouterr().err
    assert code == 2 and f"protected environment '{protected[0]}'" in err and "placeholder" in err, err
    assert aws.client("s3").list_objects_v2(Bucket="source-bucket")["KeyCount"] == 0


def test_publish_without_the_artifacts_stack_is_one_line_exit_2(aws, project_root, capsys, monkeypatch):
    clients = _Clients(aws, {})
    clients.stubber.deactivate()
    from botocore.stub import Stubber

    clients.stubber = Stubber(clients.cfn)
    clients.stubber.add_client_error("describe_stacks", "ValidationError", "Stack with id x does not exist")
    clients.stubber.activate()
    monkeypatch.setenv(model.MODEL_ENV, str(project_root))
    with pytest.raises(publish.PublishError) as err:
        publish.run(_publish_args(), clients)
    # a ParamFileError: the command line prints it as one line and exits 2 (as for the stale files above)
    assert isinstance(err.value, paramfile.ParamFileError)
    assert len(str(err.value).splitlines()) == 1 and "--bucket" in str(err.value)


# -- a wave in another account (placement) ------------------------------------------------------------------
def test_a_wave_in_another_account_runs_its_change_sets_under_that_accounts_bootstrap_roles(tmp_path, capsys):
    """The actions take ``placement``'s role (the target's bootstrap deploy role, which the pipeline role may
    assume) and the target's execution role; the tools side creates no deploy role for that wave. The model
    renders completely (parameter files included) and passes cfn-lint with our rules."""
    from generator import yamlio
    from generator.lint import gate

    wave, tools = APP.waves[0], MODEL.tools
    text = PATH.read_text()
    for env, account in ((tools, "111111111111"), (wave, "222222222222")):
        text = text.replace(f"  - name: {env}\n", f"  - name: {env}\n    account: \"{account}\"\n", 1)
    path = tmp_path / "model.yaml"
    path.write_text(text)
    out = tmp_path / "templates"
    assert cli.main(["--model", str(path), "templates", "--out", str(out)]) == 0, capsys.readouterr().err
    other = model.load(path)
    app = other.application(APP.name)
    delivery = next(c for c in registry.stacks(other) if c.app is app and getattr(c, "delivery", None)).delivery
    pipeline = yamlio.load_file(out / f"{delivery.pipeline_stack}.yaml")
    roles = yamlio.load_file(out / f"{delivery.roles_stack}.yaml")
    stages = {s["Name"]: s for s in resources(pipeline, "AWS::CodePipeline::Pipeline")["Pipeline"]["Properties"]["Stages"]}
    label = waves(other, app)[0].label
    account = {"Ref": f"{label}AccountId"}
    cfn = [a for a in stages["Deploy" + label]["Actions"] if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert cfn
    deploy_role = f"role/${{ProjectName}}-{wave}-bootstrap-deploy"
    for action in cfn:
        assert _sub(action["RoleArn"]).endswith(deploy_role) and action["RoleArn"]["Fn::Sub"][1]["Account"] == account
        if action["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE":
            arn = action["Configuration"]["RoleArn"]
            assert _sub(arn).endswith(f"role/${{ProjectName}}-{wave}-bootstrap-cfn-exec")
            assert arn["Fn::Sub"][1]["Account"] == account
    assert f"Deploy{label}Role" not in resources(roles, "AWS::IAM::Role")
    assumed = [r for p in resources(roles, "AWS::IAM::Policy").values() for s in statements(p["Properties"]["PolicyDocument"])
               if "sts:AssumeRole" in _list(s["Action"]) for r in _list(s["Resource"])]
    assert any(_sub(r).endswith(deploy_role) for r in assumed if isinstance(r, dict) and "Fn::Sub" in r)
    for stack in (delivery.pipeline_stack, delivery.roles_stack):
        assert [str(m) for m in gate.cfn_lint().matches((out / f"{stack}.yaml").read_text())] == []
