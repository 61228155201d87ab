"""The project's own cfn-lint rules (generator/lint/rules/): each has a passing and a failing
fixture, and the failing one produces exactly that rule's id — nothing else from cfn-lint."""
from pathlib import Path

import pytest

from generator import registry
from generator.lint import gate
from generator.lint.rules.CodeBuildSecretVariables import looks_secret
from tests.helpers import lint_one_region as lint

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rules"
RULE_IDS = sorted(gate.own_rule_ids())


def ids(path: Path) -> list:
    return sorted(m.rule.id for m in lint(path.read_text()))


def test_every_rule_file_is_loaded_and_has_fixtures():
    assert RULE_IDS == sorted({
        "E9101", "E9102", "E9103", "E9104", "E9105", "E9106",
        "E9107",  # validation reaches internal targets
        "E9108",  # a CODE_DEPLOY service its own stack never updates
        "E9109",  # ecs:TagResource with ecs:CreateAction for tag-on-create
        "E9110",  # Beanstalk platform by ARN
        "E9111",  # ELB access-log delivery in every region
        "E9112",  # trust-policy conditions only for services that send them
        "E9113",  # ECR lifecycle never expires release or bootstrap images
        "E9120",  # pipeline sources: no CodeCommit repository, no polling, triggers on V2 only
        "E9114",  # a role named as Principal exists before the policy
        "E9115",  # a condition value with a wildcard compares with StringLike, not StringEquals
        "E9121",  # a Lambda function logs to a log group of its template
        "E9122",  # a Lambda alias points at a published version
        "E9123",  # a Lambda deploy action's strategy waits at most 2 days in all
        "E9131",  # EventBridge targets in CloudWatch Logs use the resource policy, not a role
        "E9132",  # stage conditions: one per block, 1-5 rules
        "E9133",  # an action in another Region has an artifact store there
        "E9134",  # an action of another account: artifact stores under a customer managed key ARN
        "E9140",  # CHANGE_SET_EXECUTE after a CHANGE_SET_REPLACE of the same change set
        "E9141",  # a dashboard body CloudWatch accepts
        "E9150",  # a table shared with another account uses a customer managed key
    })
    for rule_id in RULE_IDS:
        assert (FIXTURES / f"{rule_id}-pass.yaml").is_file() and (FIXTURES / f"{rule_id}-fail.yaml").is_file()


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_failing_fixture_produces_exactly_this_rule(rule_id):
    found = ids(FIXTURES / f"{rule_id}-fail.yaml")
    assert found and set(found) == {rule_id}, found


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_passing_fixture_produces_nothing(rule_id):
    assert ids(FIXTURES / f"{rule_id}-pass.yaml") == []


def test_rules_follow_cfn_lint_shape():
    from cfnlint.rules import Rules

    rules = {r.id: r for r in Rules.create_from_directory(str(gate.RULES_DIR)).values()}
    assert sorted(rules) == RULE_IDS  # one class per file, helpers not loaded as rules
    for rule in rules.values():
        assert rule.shortdesc and rule.description and rule.source_url and rule.tags


@pytest.mark.parametrize("name,secret", [
    ("DB_PASSWORD", True), ("GITHUB_TOKEN", True), ("API_KEY", True), ("clientSecret", True),
    ("KMS_KEY_ARN", False), ("SECRET_ARN", False), ("TOKEN_PARAMETER_NAME", False), ("IMAGE_TAG", False),
])
def test_secret_variable_names(name, secret):
    assert looks_secret(name) is secret


def test_stateful_rule_also_covers_buckets_unlike_cfn_lint():
    text = (FIXTURES / "E9103-pass.yaml").read_text().replace(
        "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      VersioningConfiguration",
        "    Properties:\n      VersioningConfiguration")
    assert sorted({m.rule.id for m in lint(text)}) == ["E9101"]


def test_codedeploy_rule_exempts_parameters_that_only_rename_the_service():
    """A parameter the create-only ServiceName uses replaces the service instead of updating it."""
    text = (FIXTURES / "E9108-pass.yaml").read_text()
    assert "${ProjectName}-${EnvironmentName}-app" in text and ids(FIXTURES / "E9108-pass.yaml") == []
    renamed = text.replace("ServiceName: !Sub '${ProjectName}-${EnvironmentName}-app'", "ServiceName: fixed-name")
    assert sorted({m.rule.id for m in lint(renamed)}) == ["E9108"]


@pytest.mark.parametrize("selection,flagged", [
    ('{"tagStatus":"tagged","tagPrefixList":["ci-"],"countType":"sinceImagePushed","countUnit":"days","countNumber":${Keep}}', False),
    ('{"tagStatus":"tagged","tagPrefixList":["release-"],"countType":"imageCountMoreThan","countNumber":${Keep}}', True),
    ('{"tagStatus":"tagged","tagPatternList":["*"],"countType":"imageCountMoreThan","countNumber":${Keep}}', True),
])
def test_ecr_lifecycle_rule_accepts_only_ci_prefixes(selection, flagged):
    text = (FIXTURES / "E9113-pass.yaml").read_text()
    old = '{"tagStatus":"tagged","tagPrefixList":["ci-"],"countType":"imageCountMoreThan","countNumber":${Keep}}'
    assert old in text
    found = {m.rule.id for m in lint(text.replace(old, selection))}
    assert found == ({"E9113"} if flagged else set())


@pytest.mark.parametrize("stack", registry.names())
def test_committed_templates_pass_the_ecs_rules(stack):
    """E9108, E9109 and E9113 hold on every committed template (cfn-lint's own checks: tests/test_cfn_lint.py)."""
    path = FIXTURES.parents[2] / "templates" / f"{stack}.yaml"
    # the gate's linter (every gate region): its matches are shared with the tests that lint these templates
    found = [str(m) for m in gate.cfn_lint().matches(path.read_text()) if m.rule.id in ("E9108", "E9109", "E9113")]
    assert found == []


def test_a_principal_role_of_another_stack_built_as_text_is_flagged():
    """E9114: a role the template does not create, named by a built ARN, may not exist when the policy is saved;
    its ARN is imported instead (the store's bucket policy and the repository's policy import the scanners')."""
    text = (FIXTURES / "E9114-pass.yaml").read_text().replace(
        "- Name: !Sub '${ProjectName}-${EnvironmentName}-app-pipeline'",
        "- Name: !Sub '${ProjectName}-${EnvironmentName}-other-pipeline'")
    assert sorted({m.rule.id for m in lint(text)}) == ["E9114"]
    imported = (FIXTURES / "E9114-pass.yaml").read_text().replace(
        """            AWS: !Sub
            - arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Name}
            - Name: !Sub '${ProjectName}-${EnvironmentName}-app-pipeline'""",
        """            AWS: !ImportValue
              Fn::Sub: ${ProjectName}-${EnvironmentName}-other-roles-PipelineRoleArn""")
    assert "ImportValue" in imported and [m for m in lint(imported) if m.rule.id == "E9114"] == []


def test_cross_account_store_key_refuses_an_alias_and_ignores_same_account_roles():
    """E9134: another account resolves an alias in its own account; a role of this account needs no such key."""
    passing = (FIXTURES / "E9134-pass.yaml").read_text()
    by_alias = passing.replace("          Id: !Ref ArtifactKeyArn\n", "          Id: alias/artifacts\n").replace(
        "  ArtifactKeyArn:\n    Type: String\n", "")  # W2001: a parameter no longer used
    assert by_alias != passing
    assert {m.rule.id for m in lint(by_alias)} == {"E9134"}
    failing = (FIXTURES / "E9134-fail.yaml").read_text()
    same_account = failing.replace("iam::${Account}:role/", "iam::${AWS::AccountId}:role/")
    assert same_account != failing
    assert [m.rule.id for m in lint(same_account)] == []


def test_lambda_strategy_rule_finds_both_the_literal_and_the_parameter_default():
    """E9123: one finding per over-long strategy, at the action's literal and at the referenced Default."""
    found = lint((FIXTURES / "E9123-fail.yaml").read_text())
    assert sorted(tuple(m.path) for m in found) == sorted([
        ("Parameters", "DeployStrategyProd", "Default"),
        ("Resources", "Pipeline", "Properties", "Stages", 1, "Actions", 0, "Configuration", "DeployStrategy")])
    assert all("over the 2880 minutes (2 days)" in m.message for m in found)
