"""Every template passes cfn-lint (AWS's resource schemas), informational rules included."""
import pytest
from cfnlint.api import ManualArgs, lint

from generator import registry
from tests.helpers import TEMPLATES

CONFIG = ManualArgs(include_checks=["I"], regions=["us-east-1", "eu-west-1", "ap-southeast-2"])


@pytest.mark.parametrize("stack", registry.names())
def test_cfn_lint_reports_nothing(stack):
    matches = lint((TEMPLATES / f"{stack}.yaml").read_text(), config=CONFIG)
    assert [str(m) for m in matches] == []


def test_cfn_lint_is_actually_checking():
    broken = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties: {NotAProperty: 1}\n"
    assert any(m.rule.id == "E3002" for m in lint(broken, config=CONFIG))
