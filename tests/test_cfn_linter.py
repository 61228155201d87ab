"""cfn-lint with its rules loaded once (generator/lint/cfn_linter.py) finds what ``cfnlint.api.lint`` finds,
template after template, and remembers the matches of a text without handing out its own list."""
from pathlib import Path

from cfnlint.api import ManualArgs, lint

from generator.lint import cfn_linter, gate

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_shared_rules_find_what_a_fresh_runner_finds():
    # failing and passing texts interleaved: a rule keeping state from one template would show on the next
    texts = [(FIXTURES / "security" / "insecure.yaml").read_text()]
    texts += [(FIXTURES / "rules" / name).read_text() for name in ("E9114-fail.yaml", "E9114-pass.yaml", "E9101-fail.yaml")]
    texts.append("Resources: [not, a, mapping]\n")
    texts.append("Resources:\n  Bucket: {Type: AWS::S3::Bucket\n")  # not YAML: the parse error
    config = ManualArgs(include_checks=["I"], append_rules=[str(gate.RULES_DIR)], regions=gate.LINT_REGIONS)
    shared = gate.cfn_lint()
    found = [[str(m) for m in shared.fresh_matches(text)] for text in texts]
    assert found == [[str(m) for m in lint(text, config=config)] for text in texts]
    assert sum(map(bool, found)) >= 4  # the failing fixtures, the bad shape and the parse error


def test_matches_are_remembered_per_text():
    linter = cfn_linter.linter(("I",), (), ("us-east-1",))
    assert cfn_linter.linter(("I",), (), ("us-east-1",)) is linter
    broken = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties: {NotAProperty: 1}\n"
    first = linter.matches(broken)
    assert [m.rule.id for m in first] == ["E3002"]
    first.clear()  # a caller's list is its own
    again = linter.matches(broken)
    assert [m.rule.id for m in again] == ["E3002"] and again[0] is linter.matches(broken)[0]
    assert linter.matches(broken.replace("NotAProperty: 1", "BucketName: a-bucket")) == []
