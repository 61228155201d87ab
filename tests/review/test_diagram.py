"""Pipeline diagrams: the Mermaid text, parsed back, lists every stage and action of the
template in order, parallel actions together, approvals marked; docs/ and the README are in
step with templates/."""
import re
import shutil
import subprocess
import sys

import pytest

from generator import yamlio
from generator.review import diagram
from tests.helpers import ROOT, copy_model

FIXTURE = ROOT / "tests" / "fixtures" / "pipeline" / "pipeline.yaml"


def parse_mermaid(text: str) -> dict:
    """Read a flowchart back: stages in order, each a list of run-order columns of
    (action name, provider, shape); the approval class; the stage-to-stage edges."""
    stages, current, nodes, edges, approvals, stage_ids = [], None, {}, [], set(), []
    for raw in text.splitlines():
        line = raw.strip()
        if m := re.fullmatch(r'subgraph (\w+)\["\d+\. (.*)"\]', line):
            current = {"id": m.group(1), "name": m.group(2).replace("#quot;", '"'), "nodes": []}
            stages.append(current)
            stage_ids.append(m.group(1))
        elif line == "end":
            current = None
        elif m := re.fullmatch(r'(\w+)(?:\["(.*)"\]|\{\{"(.*)"\}\})', line):
            label = m.group(2) if m.group(2) is not None else m.group(3)
            name, provider = label.replace("#quot;", '"').split("<br/>")
            shape = "box" if m.group(2) is not None else "hexagon"
            assert current is not None, f"node outside a stage: {line}"
            nodes[m.group(1)] = (name, provider, shape)
            current["nodes"].append(m.group(1))
        elif m := re.fullmatch(r"([\w &]+) --> ([\w &]+)", line):
            edges.append(([s.strip() for s in m.group(1).split("&")], [t.strip() for t in m.group(2).split("&")]))
        elif m := re.fullmatch(r"class ([\w,]+) approval", line):
            approvals.update(m.group(1).split(","))
    stage_edges = [(a[0], b[0]) for a, b in edges if a[0] in stage_ids]
    result = []
    for stage in stages:
        inside = set(stage["nodes"])
        incoming = {t for srcs, tgts in edges for t in tgts if t in inside and any(s in inside for s in srcs)}
        column = [n for n in stage["nodes"] if n not in incoming]
        columns = []
        while column:
            columns.append([nodes[n] for n in column])
            nxt = []
            for srcs, tgts in edges:
                if set(srcs) == set(column):
                    nxt.extend(tgts)
            column = nxt
        assert sum(len(c) for c in columns) == len(stage["nodes"]), f"unreachable action in {stage['name']}"
        result.append((stage["name"], columns))
    return {"stages": result, "stage_edges": stage_edges, "stage_ids": stage_ids,
            "approvals": {nodes[n][0] for n in approvals}}


def expected(template: dict, logical_id: str):
    """Stages and run-order columns straight from the template (independent of diagram.py)."""
    stages = []
    for stage in template["Resources"][logical_id]["Properties"]["Stages"]:
        by_order = {}
        for action in stage["Actions"]:
            by_order.setdefault(int(action.get("RunOrder", 1)), []).append(
                (action["Name"], action["ActionTypeId"]["Provider"],
                 "hexagon" if action["ActionTypeId"]["Category"] == "Approval" else "box"))
        stages.append((stage["Name"], [by_order[k] for k in sorted(by_order)]))
    return stages


def test_fixture_pipeline_round_trips():
    template = yamlio.load_file(FIXTURE)
    [pipeline] = diagram.pipelines("fixture", template)
    parsed = parse_mermaid(diagram.mermaid(pipeline))
    assert parsed["stages"] == expected(template, "Pipeline")
    # spelled out once, so a bug shared by expected() and diagram.py cannot hide
    assert [s for s, _ in parsed["stages"]] == ["Source", "Build", "Staging", "Approve", "Production"]
    build = dict(parsed["stages"])["Build"]
    assert [[a[0] for a in column] for column in build] == [["Compile"], ["UnitTests", "SecurityScan"], ['Package "zip"']]
    assert parsed["approvals"] == {"ReleaseToProduction"}
    assert parsed["stage_edges"] == list(zip(parsed["stage_ids"], parsed["stage_ids"][1:]))


def test_non_pipeline_templates_draw_nothing():
    assert diagram.pipelines("foundation", yamlio.load_file(ROOT / "templates" / "foundation.yaml")) == []


def _pipeline_templates():
    found = []
    for path in sorted((ROOT / "templates").glob("*.yaml")):
        template = yamlio.load_file(path)
        for lid, res in template.get("Resources", {}).items():
            if res.get("Type") == diagram.PIPELINE_TYPE:
                found.append((path.stem, lid))
    return found


@pytest.mark.parametrize("stack,logical_id", _pipeline_templates() or [pytest.param(None, None, marks=pytest.mark.skip(reason="no pipeline template yet"))])
def test_committed_docs_list_every_stage_and_action_in_order(stack, logical_id):
    template = yamlio.load_file(ROOT / "templates" / f"{stack}.yaml")
    doc = (ROOT / "docs" / f"pipeline-{stack}.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", doc, re.S)
    lids = re.findall(r"^## `[^`]+`: (\w+)$", doc, re.M)
    assert logical_id in lids, f"docs/pipeline-{stack}.md has no section for {logical_id}"
    parsed = parse_mermaid(blocks[lids.index(logical_id)])
    assert parsed["stages"] == expected(template, logical_id)


def test_docs_and_readme_are_in_step_with_templates():
    problems = diagram.stale(ROOT / "docs", ROOT / "README.md")
    assert problems == [], "run `make templates`: " + "; ".join(problems)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert diagram.README_START in readme and diagram.README_END in readme


def test_diagram_command_writes_docs_and_readme_block(tmp_path):
    (tmp_path / "templates").mkdir()
    shutil.copy(FIXTURE, tmp_path / "templates" / "delivery.yaml")
    shutil.copy(ROOT / "templates" / "foundation.yaml", tmp_path / "templates" / "foundation.yaml")
    (tmp_path / "README.md").write_text(f"# x\n\n{diagram.README_START}\nold\n{diagram.README_END}\n\nrest\n")
    env = {"CFN_DELIVERY_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "generator.cli", "diagram", *a], cwd=ROOT,  # noqa: E731
                                    capture_output=True, text=True, env=env, timeout=120)
    assert run("--check").returncode == 1
    result = run()
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "docs").iterdir()) == ["pipeline-delivery.md"]
    readme = (tmp_path / "README.md").read_text()
    assert "old" not in readme and readme.endswith("\n\nrest\n")
    block = re.search(r"```mermaid\n(.*?)```", readme, re.S).group(1)
    assert parse_mermaid(block)["stages"] == expected(yamlio.load_file(FIXTURE), "Pipeline")
    assert run("--check").returncode == 0
    assert "unchanged" in run().stdout
    # the pipeline goes away: its generated page is deleted, the README says so
    (tmp_path / "templates" / "delivery.yaml").unlink()
    assert "deleted" in run().stdout
    assert not (tmp_path / "docs" / "pipeline-delivery.md").exists()
    assert "No template defines a pipeline yet." in (tmp_path / "README.md").read_text()


def test_templates_command_regenerates_the_diagrams(tmp_path, monkeypatch):
    copy_model(tmp_path)
    (tmp_path / "README.md").write_text(f"{diagram.README_START}\n{diagram.README_END}\n")
    result = subprocess.run([sys.executable, "-m", "generator.cli", "templates"], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={"CFN_DELIVERY_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    with_pipeline = {p.stem for p in (tmp_path / "templates").glob("*.yaml")
                     if any(r.get("Type") == diagram.PIPELINE_TYPE for r in yamlio.load_file(p)["Resources"].values())}
    docs = {p.name for p in (tmp_path / "docs").glob("pipeline-*.md")} if (tmp_path / "docs").exists() else set()
    assert docs == {f"pipeline-{s}.md" for s in with_pipeline}
    readme = (tmp_path / "README.md").read_text()
    for stack in with_pipeline:
        assert f"docs/pipeline-{stack}.md" in readme
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    assert diagram.stale(tmp_path / "docs", tmp_path / "README.md") == []


def test_diagrams_from_rendered_templates_equal_those_from_the_files():
    """`cfn-delivery templates` draws from the dicts it just rendered; the result is what reading
    templates/ gives (`cfn-delivery diagram` alone)."""
    from generator import registry, render

    in_memory = {stack_cls.name: render.as_dict(render.build(stack_cls)) for stack_cls in registry.stacks()}
    assert diagram.planned(ROOT / "docs", ROOT / "README.md", templates=in_memory) == \
        diagram.planned(ROOT / "docs", ROOT / "README.md")


def test_templates_command_parses_no_yaml(tmp_path, monkeypatch, capsys):
    """Every stack is rendered once and nothing it wrote is parsed back (the diagrams use the dicts)."""
    from generator import cli, registry, render

    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(tmp_path))
    copy_model(tmp_path)
    (tmp_path / "README.md").write_text(f"{diagram.README_START}\n{diagram.README_END}\n")
    builds = []
    real_build = render.build
    monkeypatch.setattr(render, "build", lambda stack_cls: builds.append(stack_cls.name) or real_build(stack_cls))

    def no_parsing(*args, **kwargs):
        raise AssertionError("templates re-parsed")

    monkeypatch.setattr(yamlio, "load", no_parsing)
    assert cli.main(["templates"]) == 0
    assert sorted(builds) == sorted(registry.names())
    assert "docs/pipeline-" in capsys.readouterr().out
    builds.clear()
    assert cli.main(["templates", "--check"]) == 0
    assert builds == []  # same model file in the same process: its stacks are built once, not per command
    # a hand-edited diagram is stale for `templates --check` too (the diagrams follow the templates)
    page = sorted((tmp_path / "docs").glob("pipeline-*.md"))[0]
    page.write_text(page.read_text() + "edit\n")
    assert cli.main(["templates", "--check"]) == 1
    assert f"{page}: differs" in capsys.readouterr().err
