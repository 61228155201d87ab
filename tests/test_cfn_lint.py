"""Every template passes cfn-lint (AWS's resource schemas), informational rules included, as the security
gate runs it (the project's rules and the gate's regions too; its matches per template text are shared with
the gate's tests in the session)."""
import pytest

from generator import registry
from generator.lint import gate
from tests.helpers import TEMPLATES


@pytest.mark.parametrize("stack", registry.names())
def test_cfn_lint_reports_nothing(stack):
    matches = gate.cfn_lint().matches((TEMPLATES / f"{stack}.yaml").read_text())
    assert [str(m) for m in matches] == []


def test_cfn_lint_is_actually_checking():
    broken = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties: {NotAProperty: 1}\n"
    assert any(m.rule.id == "E3002" for m in gate.cfn_lint().matches(broken))
