"""The model (delivery.yaml) is the single source of truth (issue 11): malformed models give one clear
line each and exit 2; a rename, a new environment and a second application are edits to delivery.yaml
alone; deploy order is the import graph; parameter files are generated, stale-checked and deterministic.

Every test works on a temporary copy of the project (``CFN_DELIVERY_ROOT``) and runs the commands
in-process (``cli.main``)."""
from __future__ import annotations

import difflib
import hashlib
import json
import re
import shutil

import pytest

from generator import cli, model, paramgen, registry, render
from tests.helpers import ROOT

MODEL_TEXT = (ROOT / "delivery.yaml").read_text(encoding="utf-8")
ORIGINAL = model.loads(MODEL_TEXT, "delivery.yaml")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the project root with its model; ``project(text)`` replaces delivery.yaml."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "delivery.yaml", root / "delivery.yaml")
    shutil.copy(ROOT / "README.md", root / "README.md")
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(root))
    monkeypatch.delenv("CFN_DELIVERY_MODEL", raising=False)
    monkeypatch.chdir(root)  # messages name files relative to the working directory

    def with_model(text=None):
        if text is not None:
            (root / "delivery.yaml").write_text(text, encoding="utf-8")
        return root

    return with_model


def run(capsys, *argv):
    capsys.readouterr()
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def block(text: str, start: str) -> tuple:
    """(start, end) offsets of the list item that begins with the line ``start`` (up to the next item
    at the same indentation, a blank line or a comment)."""
    begin = text.index(start)
    indent = start[: len(start) - len(start.lstrip())]
    end = begin + len(start)
    pattern = re.compile(rf"^(?:{re.escape(indent)}- |\S|\s*$|\s*#)", re.M)
    match = pattern.search(text, end)
    return begin, match.start() if match else len(text)


# -- malformed delivery.yaml: one line each, naming file:line and the key; exit 2 ---------------------

def _edit(old, new, count=1):
    def apply(text):
        assert text.count(old) >= count, old
        return text.replace(old, new, count)
    return apply


def _line_of(marker, last=False):
    """The line of ``marker`` in the edited text (its last occurrence with ``last``)."""
    return lambda text: text[: (text.rindex if last else text.index)(marker)].count("\n") + 1


_STAGING = "  - name: staging\n    protected: false\n"
MALFORMED = {
    # name: (edit of the model text, key the message names, words it contains, the line it names)
    "bad YAML": (_edit(f"  name: {ORIGINAL.project.name}\n", f"  name: [{ORIGINAL.project.name}\n"), None,
                 "invalid YAML", lambda t: 9),
    "unknown top-level key": (lambda t: t + "colour: blue\n", "colour", "unknown key 'colour'",
                              lambda t: t.count("\n")),
    "unknown nested key": (_edit(_STAGING, _STAGING + "    protect: true\n"), "environments[2].protect",
                           "unknown key 'protect'", _line_of("    protect: true")),
    "unknown application key": (_edit("    kind: beanstalk\n", "    kind: beanstalk\n    wave: [prod]\n"),
                                "applications[0].wave", "unknown key 'wave'", _line_of("    wave: [prod]")),
    "wrong type": (_edit(_STAGING, "  - name: staging\n    protected: 'no'\n"), "environments[2].protected",
                   "is not a boolean", _line_of("    protected: 'no'")),
    "unknown environment in waves": (_edit("    kind: ecs-bluegreen\n    source: {type: s3}\n    waves: [staging, prod]",
                                           "    kind: ecs-bluegreen\n    source: {type: s3}\n    waves: [staging, qa, prod]"),
                                     "applications[1].waves[1]", "unknown environment 'qa'",
                                     _line_of("    waves: [staging, qa, prod]")),
    "duplicate application name": (_edit("  - name: ecs-native\n", "  - name: beanstalk\n"), "applications[2].name",
                                   "application 'beanstalk' is declared twice", _line_of("  - name: beanstalk\n", last=True)),
    "duplicate environment": (_edit("\napplications:\n", "  - name: prod\n    protected: true\n\napplications:\n"),
                              "environments[4].name", "environment 'prod' is declared twice",
                              _line_of("  - name: prod\n", last=True)),
    "tools environment missing": (_edit("tools: tools\n", "tools: ops\n"), "tools",
                                  "tools environment 'ops' is not listed under environments", _line_of("tools: ops")),
    "pipeline prefix-matches another": (
        _edit("  - name: ecs-native\n    kind: ecs-rolling\n", "  - name: beanstalk-web\n    kind: ecs-rolling\n"),
        "applications[2].name", "starts with the pipeline 'beanstalk'", _line_of("  - name: beanstalk-web")),
    "model parameter no stack declares": (_edit("      VpcCidr: 10.20.0.0/16\n",
                                                "      VpcCidr: 10.20.0.0/16\n      VpcCdir: 10.20.0.0/16\n"),
                                          "environments[2].parameters.VpcCdir", "no stack declares the parameter VpcCdir",
                                          _line_of("      VpcCdir: ")),
    "required parameter unset": (lambda t: re.sub(r"      PlatformArn: !placeholder .*\n", "      InstanceType: t3.small\n", t),
                                 "applications[0].parameters.PlatformArn", "stack beanstalk-env needs it",
                                 _line_of("  - name: beanstalk\n")),
    "model value its template refuses": (lambda t: re.sub(r"(\n      LoadBalancerScheme: )\S+\n", r"\1public\n", t, count=1),
                                         "environments[1].parameters.LoadBalancerScheme",
                                         "'public' is not an allowed value; use one of: internal, internet-facing",
                                         _line_of("      LoadBalancerScheme: public")),
}


#: Problems found while generating the parameter files (the model loads; templates/ is rendered first today,
#: see paramgen.check on wp/docs for writing nothing at all).
PARAMETER_PROBLEMS = ("model parameter no stack declares", "required parameter unset", "model value its template refuses")


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_model_is_one_clear_line_and_exit_2(project, capsys, case):
    change, key, words, line = MALFORMED[case]
    text = change(MODEL_TEXT)
    root = project(text)
    code, out, err = run(capsys, "templates")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    message = lines[0].removeprefix("error: ")
    expected_line = line(text)
    assert message.startswith(f"delivery.yaml:{expected_line}"), (message, expected_line)
    if key:
        assert f" {key}: " in message or f"{key}: " in message.split(":", 2)[-1], message
    assert words in message
    assert ";" in message  # the fix follows the problem
    assert not (root / "params").exists()  # no parameter file is written from a broken model
    if case not in PARAMETER_PROBLEMS:  # the model does not load: nothing is rendered at all
        assert not (root / "templates").exists()


def test_duplicate_name_of_another_kind_is_still_one_line():
    with pytest.raises(model.ModelError) as err:
        model.loads(MODEL_TEXT.replace("  - name: ecs-native\n", "  - name: ecs\n"), "delivery.yaml")
    assert len(err.value.problems) == 1, err.value.problems


def test_model_loader_reports_every_problem_and_names_the_given_file():
    text = MODEL_TEXT + "colour: blue\n"
    text = text.replace(_STAGING, "  - name: staging\n    protected: 'no'\n")
    with pytest.raises(model.ModelError) as err:
        model.loads(text, "other.yaml")
    assert len(err.value.problems) == 2
    assert all(p.startswith("other.yaml:") for p in err.value.problems)
    assert isinstance(err.value, cli.paramfile.ParamFileError)


def test_empty_and_missing_model(project, capsys, tmp_path):
    project("")
    code, _, err = run(capsys, "templates")
    assert code == 2 and "delivery.yaml:1: the file is empty" in err
    code, _, err = run(capsys, "--model", str(tmp_path / "none.yaml"), "templates")
    assert code == 2 and "none.yaml" in err and err.count("\n") == 1


def test_model_option_and_environment_variable_choose_the_file(project, capsys, tmp_path, monkeypatch):
    project()
    other = tmp_path / "other.yaml"
    other.write_text(MODEL_TEXT.replace("project:\n", "project:\n  colour: blue\n", 1))
    code, _, err = run(capsys, "--model", str(other), "stacks", "--env", "dev")
    assert code == 2 and "other.yaml:" in err and "unknown key 'colour'" in err  # --model chose the file
    # an in-process run leaves the caller's choice as it was
    assert model.current().project.name == ORIGINAL.project.name
    monkeypatch.setenv(model.MODEL_ENV, str(ROOT / "delivery.yaml"))
    assert model.current().project.name == ORIGINAL.project.name


# -- the sample model loads and says what the issue asks ----------------------------------------------

def test_sample_model_reproduces_the_setup():
    assert ORIGINAL.tools in ORIGINAL.environment_names
    assert ORIGINAL.environment_names[0] == ORIGINAL.tools
    kinds = {app.kind for app in ORIGINAL.applications}
    assert kinds == {"beanstalk", "ecs-bluegreen", "ecs-rolling"}
    protected = {e.name for e in ORIGINAL.environments if e.protected}
    assert "prod" in protected and "dev" not in protected
    assert ORIGINAL.placeholders(), "the sample's account-specific values are marked !placeholder"
    assert all(v.origin.startswith("delivery.yaml:") for v in ORIGINAL.placeholders())


# -- rename: project.name is the whole rename ----------------------------------------------------------

def _occurrences(root, word) -> list:
    found = []
    for folder in ("templates", "params"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and word in path.read_text(encoding="utf-8"):
                found.append(str(path.relative_to(root)))
    return found


def test_rename_is_one_edit_of_project_name(project, capsys):
    old = ORIGINAL.project.name
    new = "billing"
    assert new not in MODEL_TEXT
    # the sample repeats the old name in values of its own (cost center, tags, e-mail addresses, a user
    # name); a team adopting the model replaces those too: every occurrence, nothing else
    text = MODEL_TEXT.replace(old, new)
    root = project(text)
    code, out, err = run(capsys, "templates")
    assert code == 0, err
    assert list((root / "templates").glob("*.yaml")) and list((root / "params").rglob("*.json"))
    assert _occurrences(root, old) == []
    code, out, err = run(capsys, "params", "validate")
    assert code == 0, err
    for env in ORIGINAL.environment_names:
        assert env in out
    code, _, err = run(capsys, "templates", "--check")
    assert code == 0, err


def test_rename_changes_project_name_only_where_the_model_does_not_repeat_it(project, capsys):
    """Changing project.name alone: the old name survives only inside values the model itself still sets."""
    old = ORIGINAL.project.name
    start, end = block(MODEL_TEXT, "project:\n")
    text = MODEL_TEXT[:start] + MODEL_TEXT[start:end].replace(f"  name: {old}\n", "  name: billing\n") + MODEL_TEXT[end:]
    root = project(text)
    assert run(capsys, "templates")[0] == 0
    renamed = model.current()
    repeated = {str(v.value) for e in renamed.environments for v in e.parameters.values()}
    repeated |= {str(v.value) for a in renamed.applications for v in a.parameters.values()}
    repeated |= {str(v.value) for a in renamed.applications for o in a.overrides.values() for v in o.values()}
    repeated |= {renamed.project.cost_center} | {e.cost_center or "" for e in renamed.environments}
    repeated |= set(renamed.project.tags.values()) | {v for e in renamed.environments for v in e.tags.values()}
    repeated = sorted((v for v in repeated if old in v), key=len, reverse=True)
    for path in sorted((root / "templates").rglob("*")) + sorted((root / "params").rglob("*")):
        if path.is_file():
            content = path.read_text(encoding="utf-8")
            for value in repeated:
                content = content.replace(json.dumps(value)[1:-1], "").replace(value, "")
            assert old not in content, f"{path.relative_to(root)} still names '{old}'"


# -- a qa environment is one edit of delivery.yaml -----------------------------------------------------

def _generator_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "generator").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _with_qa(text: str, app_name: str) -> str:
    start, end = block(text, "  - name: staging\n")
    qa = text[start:end].replace("  - name: staging\n", "  - name: qa\n", 1)
    text = text[:start] + qa + text[start:]
    a_start, a_end = block(text, f"  - name: {app_name}\n")
    app = text[a_start:a_end]
    waves = re.search(r"    waves: \[(.*)\]\n", app)
    items = [w.strip() for w in waves.group(1).split(",")]
    items.insert(items.index("staging"), "qa")
    app = app.replace(waves.group(0), f"    waves: [{', '.join(items)}]\n")
    return text[:a_start] + app + text[a_end:]


def _stages(template) -> list:
    pipeline = next(r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    return [s["Name"] for s in pipeline["Properties"]["Stages"]]


@pytest.mark.parametrize("index", [0, 1])
def test_qa_environment_is_one_edit_of_the_model(project, capsys, index):
    app = ORIGINAL.applications[index]
    before = _generator_digest()
    text = _with_qa(MODEL_TEXT, app.name)
    removed = [line for line in difflib.ndiff(MODEL_TEXT.splitlines(), text.splitlines()) if line.startswith("- ")]
    assert len(removed) == 1 and "waves:" in removed[0]  # one environment entry added, one waves list extended
    root = project(text)
    code, out, err = run(capsys, "templates")
    assert code == 0, err
    qa = model.current()
    assert qa.environment_names.index("qa") < qa.environment_names.index("staging")
    assert qa.application(app.name).waves.index("qa") < qa.application(app.name).waves.index("staging")
    written = sorted(p.stem for p in (root / "params" / "qa").glob("*.json"))
    assert "foundation" in written
    assert written == sorted(s.name for s in registry.stacks() if "qa" in s.environments)
    assert any(s.startswith(app.name + "-") for s in written)
    # only the application that lists qa gets stacks there
    others = [a.name for a in ORIGINAL.applications if a.name != app.name]
    assert not [s for s in written if any(s.startswith(o + "-") and not s.startswith(app.name + "-") for o in others)]
    pipeline = next(s for s in registry.stacks() if s.app is not None and s.app.name == app.name
                    and s.name.endswith("-pipeline"))
    stages = _stages(render.rendered(pipeline)[0])
    assert "DeployQa" in stages
    assert stages.index("DeployQa") < stages.index("DeployStaging")
    code, out, err = run(capsys, "params", "validate", "--env", "qa")
    assert code == 0, err
    code, _, err = run(capsys, "templates", "--check")
    assert code == 0, err
    assert _generator_digest() == before  # no Python file changed
    assert not list(root.rglob("*.py"))


# -- a second application of another kind: its own stacks, no collisions ------------------------------

NEW_APPLICATIONS = {
    "beanstalk": """  - name: billing
    kind: beanstalk
    source: {type: s3}
    waves: [staging, prod]
    parameters:
      PlatformArn: arn:aws:elasticbeanstalk:eu-west-1::platform/Python 3.12 running on 64bit Amazon Linux 2023/4.5.2
    overrides:
      prod: {InstanceType: t3.medium, MinSize: 2, MaxSize: 4}
""",
    "ecs-bluegreen": """  - name: orders
    kind: ecs-bluegreen
    source: {type: s3}
    waves: [dev, prod]
    parameters: {DockerHubUsername: ordersbuild}
    overrides:
      prod: {MinCapacity: 2, MaxCapacity: 6}
""",
    "ecs-rolling": """  - name: catalog
    kind: ecs-rolling
    source: {type: s3}
    waves: [prod]
    parameters: {DockerHubUsername: catalogbuild, DeploymentStrategy: ROLLING}
""",
}

#: Name-like properties that reference another resource (or are scoped inside it), not a resource's own
#: physical name.
NOT_OWN_NAME = {
    ("AWS::CodeDeploy::DeploymentGroup", "ApplicationName"), ("AWS::CodeDeploy::DeploymentGroup", "DeploymentConfigName"),
    ("AWS::ElasticBeanstalk::Environment", "ApplicationName"), ("AWS::ElasticBeanstalk::ApplicationVersion", "ApplicationName"),
    ("AWS::ElasticBeanstalk::ConfigurationTemplate", "ApplicationName"), ("AWS::CloudWatch::Alarm", "MetricName"),
    ("AWS::SNS::Topic", "DisplayName"), ("AWS::IAM::Policy", "PolicyName"),
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "PolicyName"),
}


def _resolve(value, params: dict):
    """A name as deployed in one environment: parameters substituted; ``None`` when not a plain string."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return params.get(value["Ref"])
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, local = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])

        def one(match):
            name = match.group(1)
            if name in local:
                return _resolve(local[name], params) or match.group(0)
            return params.get(name, match.group(0))
        return re.sub(r"\$\{([^}!]+)\}", one, text)
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        resolved = [_resolve(p, params) for p in parts]
        return None if None in resolved else sep.join(resolved)
    return None


def _names(current) -> dict:
    """(kind of name, value) -> [(stack, where)] across every stack of every environment."""
    found = {}

    def add(kind, value, stack, where):
        if value is not None:
            found.setdefault((kind, value), []).append((stack, where))

    for cls in registry.stacks(current):
        template = render.rendered(cls)[0]
        for env in cls.environments:
            params = dict(paramgen.parameter_values(cls, env), **{"AWS::Region": "eu-west-1",
                                                                  "AWS::AccountId": "123456789012"})
            for lid, resource in (template.get("Resources") or {}).items():
                rtype = resource["Type"]
                for key, value in (resource.get("Properties") or {}).items():
                    if (key.endswith("Name") or key in ("Name", "Family")) and (rtype, key) not in NOT_OWN_NAME:
                        add(f"{rtype}.{key}", _resolve(value, params), cls.name, f"{env} {lid}")
            for oid, output in (template.get("Outputs") or {}).items():
                if "Export" in output:
                    add("export", _resolve(output["Export"]["Name"], params), cls.name, f"{env} {oid}")
    return found


@pytest.mark.parametrize("kind", sorted(NEW_APPLICATIONS))
def test_second_application_of_a_kind_renders_its_own_stacks_without_collisions(project, capsys, kind):
    block_text = NEW_APPLICATIONS[kind]
    assert len(block_text.splitlines()) <= 15
    name = re.search(r"- name: (\S+)", block_text).group(1)
    root = project(MODEL_TEXT.rstrip("\n") + "\n\n" + block_text)
    code, out, err = run(capsys, "templates")
    assert code == 0, err
    current = model.current()
    stacks = registry.stacks(current)
    names = [s.name for s in stacks]
    assert len(names) == len(set(names))
    own = [s.name for s in stacks if s.app is not None and s.app.name == name]
    assert own and all(s.startswith(name + "-") for s in own)
    for stack in own:
        assert (root / "templates" / f"{stack}.yaml").exists()
    # the shared stacks are rendered once, whatever the number of applications
    shared = [s.name for s in stacks if s.app is None]
    assert len(shared) == len(set(shared)) and "foundation" in shared
    per_env = {}
    for (kind_of_name, value), where in _names(current).items():
        for stack, place in where:
            env = place.split()[0]
            per_env.setdefault((kind_of_name, value, env), set()).add((stack, place))
    clashes = {k: sorted(v) for k, v in per_env.items() if len(v) > 1}
    assert clashes == {}, clashes
    # `templates --app` renders that application alone
    for path in (root / "templates").glob("*.yaml"):
        path.unlink()
    code, out, err = run(capsys, "templates", "--app", name)
    assert code == 0, err
    assert sorted(p.stem for p in (root / "templates").glob("*.yaml")) == sorted(own)


def _synthetic_model(count: int) -> str:
    """The benchmark's generated model (bench/bench.py): ``count`` applications, the kinds in turn."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_module", ROOT / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.synthetic_model(count)


def test_thirty_applications_render_within_budget_without_collisions():
    """Many applications (issue 12): every template of a generated 30-application model is within its budget
    (rendering enforces it), the shared stacks do not grow with the applications, and no stack name, physical
    name, export or SSM path collides in any environment."""
    from generator import budget

    current = model.loads(_synthetic_model(30), "thirty.yaml")
    assert len(current.applications) == 30
    stacks = registry.stacks(current)
    names = [s.name for s in stacks]
    assert len(names) == len(set(names))
    for cls in stacks:
        template, text = render.rendered(cls)
        assert not budget.findings(cls.name, template, text)
    # What is shared is rendered once and does not list the applications.
    for cls in (s for s in stacks if s.app is None):
        text = render.rendered(cls)[1]
        assert not [a.name for a in current.applications if f"-{a.name}-" in text or f"{a.name}-" in text], cls.name
    per_env = {}
    for (kind_of_name, value), where in _names(current).items():
        for stack, place in where:
            per_env.setdefault((kind_of_name, value, place.split()[0]), set()).add((stack, place))
    clashes = {k: sorted(v) for k, v in per_env.items() if len(v) > 1}
    assert clashes == {}, clashes
    # SSM paths the stacks read (parameters naming an SSM parameter, e.g. the Docker Hub token): one owner each.
    paths = {}
    for cls in stacks:
        for env in cls.environments:
            for key, value in paramgen.parameter_values(cls, env).items():
                if isinstance(value, str) and value.startswith("/") and key.endswith("Parameter"):
                    paths.setdefault((env, value), set()).add(cls.app.name if cls.app else None)
    assert paths and all(len(owners) == 1 for owners in paths.values()), paths
    # Deploy order is still the import graph, without a cycle.
    assert len(registry.plan(model=current)) == sum(len(s.environments) for s in stacks)


def test_unknown_application_for_templates_app(project, capsys):
    project()
    code, _, err = run(capsys, "templates", "--app", "nosuch")
    assert code == 2 and "unknown application 'nosuch'" in err


# -- deploy order is the import graph; a cycle is named ---------------------------------------------

def test_deploy_order_respects_every_import():
    for env in ORIGINAL.environment_names:
        order = [s.name for s in registry.deploy_order(env, ORIGINAL)]
        assert order, env
        assert len(order) == len(set(order))
        for cls in registry.deploy_order(env, ORIGINAL):
            for need in registry.requires(cls, env):
                if ":" not in need:
                    assert order.index(need) < order.index(cls.name), (env, cls.name, need)
    plan = [f"{env}:{cls.name}" for env, cls in registry.plan(model=ORIGINAL)]
    for env, cls in registry.plan(model=ORIGINAL):
        for need in registry.requires(cls, env):
            node = need if ":" in need else f"{env}:{need}"
            assert plan.index(node) < plan.index(f"{env}:{cls.name}"), (env, cls.name, need)
    # the pipelines import from the targets they deploy, and the tools foundation comes first
    assert plan[0] == f"{ORIGINAL.tools}:foundation"


def test_requires_is_derived_from_imports():
    stacks = {s.name: s for s in registry.stacks(ORIGINAL)}
    for cls in stacks.values():
        for env in cls.environments:
            for need in registry.requires(cls, env):
                where, _, name = need.rpartition(":")
                assert name in stacks and (where or env) in stacks[name].environments
    assert registry.requires(stacks["foundation"], "prod") == ()
    # no hand-kept lists in the stack classes
    for path in sorted((ROOT / "generator" / "stacks").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s+(requires|environments)\s*=\s*[(\[]\s*[\"']", source, re.M), path.name


def test_an_import_cycle_fails_naming_the_cycle():
    with pytest.raises(registry.DependencyError) as err:
        registry.topological(["a", "b", "c", "d"], {"a": ["b"], "b": ["c"], "c": ["a"], "d": []}, "environment 'x'")
    assert str(err.value).startswith("import cycle in environment 'x': a -> b -> c -> a;")
    assert isinstance(err.value, cli.paramfile.ParamFileError)  # the commands exit 2 with it
    assert registry.topological(["b", "a"], {"a": [], "b": ["a"]}, "x") == ["a", "b"]


def test_a_cycle_between_two_stacks_stops_stacks_command_with_exit_2(project, capsys, monkeypatch):
    project()
    fakes = [type("One", (), {"name": "one", "environments": ("dev",), "app": None, "requires": ("two",)}),
             type("Two", (), {"name": "two", "environments": ("dev",), "app": None, "requires": ("one",)})]
    monkeypatch.setattr(registry, "stacks", lambda model=None: fakes)
    monkeypatch.setattr(registry, "requires", lambda cls, env=None: cls.requires)
    code, _, err = run(capsys, "stacks", "--env", "dev")
    assert code == 2
    assert err.strip() == ("error: import cycle in environment 'dev': one -> two -> one; one of these stacks must "
                           "stop importing from the next")


# -- parameter files: generated, stale-checked, deterministic -----------------------------------------

def test_hand_edited_parameter_file_is_stale_with_advice_to_edit_the_model(project, capsys):
    root = project()
    assert run(capsys, "templates")[0] == 0
    assert run(capsys, "templates", "--check")[0] == 0
    path = root / "params" / "prod" / "foundation.json"
    data = json.loads(path.read_text())
    data["Parameters"]["LogRetentionDays"] = "7"
    path.write_text(json.dumps(data, indent=2) + "\n")
    code, _, err = run(capsys, "templates", "--check")
    assert code == 1
    assert ("params/prod/foundation.json: differs from what delivery.yaml generates; parameter files are generated: "
            "edit delivery.yaml (never the file) and run `make templates`") in err
    # a stray file and a missing one are stale too
    (root / "params" / "prod" / "extra.json").write_text("{}\n")
    (root / "params" / "dev" / "foundation.json").unlink()
    code, _, err = run(capsys, "templates", "--check")
    assert code == 1
    assert "params/prod/extra.json: no stack of delivery.yaml is deployed there" in err
    assert "params/dev/foundation.json: missing" in err
    # `templates` puts everything back
    assert run(capsys, "templates")[0] == 0
    assert run(capsys, "templates", "--check")[0] == 0
    assert not (root / "params" / "prod" / "extra.json").exists()


def test_parameter_files_come_from_the_model_only():
    for env in ORIGINAL.environment_names:
        for cls in registry.stacks(ORIGINAL):
            if env not in cls.environments:
                continue
            document = paramgen.document(cls, env)
            assert document["Parameters"]["ProjectName"] == ORIGINAL.project.name
            assert document["Parameters"]["EnvironmentName"] == env
            assert document["Tags"] == ORIGINAL.tags(env)
    assert not list((ROOT / "params").glob("*/environment.json"))
    assert paramgen.stale(ORIGINAL) == []


def test_render_and_parameter_files_are_deterministic():
    """Two models loaded from the same text (new stack classes, nothing cached) render the same bytes."""
    first, second = model.loads(MODEL_TEXT, "delivery.yaml"), model.loads(MODEL_TEXT, "delivery.yaml")
    assert first is not second
    a = {s.name: render.render(s) for s in registry.stacks(first)}
    b = {s.name: render.render(s) for s in registry.stacks(second)}
    assert registry.stacks(first)[0] is not registry.stacks(second)[0]
    assert a == b
    assert paramgen.expected_files(first) == paramgen.expected_files(second)
    for name, text in a.items():
        assert (ROOT / "templates" / f"{name}.yaml").read_text(encoding="utf-8") == text, name


def test_templates_twice_changes_nothing(project, capsys):
    root = project()
    assert run(capsys, "templates")[0] == 0
    snapshot = {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    code, out, _ = run(capsys, "templates")
    assert code == 0
    assert "wrote" not in out and "removed" not in out
    assert {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} == snapshot
