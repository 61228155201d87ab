"""No template or parameter file carries a credential-looking value; secrets reach resources
only through SSM / Secrets Manager references."""
from pathlib import Path

import pytest

from generator.lint.secret_values import scan_file, scan_structure, scan_text

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "templates").glob("*.yaml")) + sorted((ROOT / "params").glob("*/*.json"))

# Built at run time so that the repository itself holds no token-shaped string.
FAKE_KEY_ID = "AKIA" + "Q" * 16
FAKE_GITHUB = "ghp_" + "a1B2" * 9
FAKE_PEM = "-----BEGIN " + "RSA PRIVATE KEY-----"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_file_has_no_secret(path):
    assert scan_file(path, str(path.relative_to(ROOT))) == []


def test_templates_and_params_are_scanned():
    assert any(p.suffix == ".yaml" for p in FILES) and any(p.suffix == ".json" for p in FILES)


@pytest.mark.parametrize("text,what", [
    (f"AccessKeyId: {FAKE_KEY_ID}", "AWS access key id"),
    (f"      Value: {FAKE_GITHUB}", "GitHub token"),
    (f"  Key: |\n    {FAKE_PEM}\n", "private key"),
    ('{"Parameters": {"password": "hunter22"}}', "password assignment"),
])
def test_token_shapes_are_found(text, what):
    problems = scan_text("fixture.yaml", text)
    assert problems and what in problems[0] and problems[0].startswith("fixture.yaml:")


def test_literal_secret_properties_are_found_and_references_pass():
    template = {"Parameters": {"DbPassword": {"Type": "String", "NoEcho": True, "Default": "changeme"}},
                "Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {
                    "MasterUserPassword": "s3cretpass", "MasterUserSecret": {"KmsKeyId": {"Ref": "Key"}}}}}}
    problems = scan_structure("fixture.yaml", template)
    assert any("Parameters/DbPassword has a literal Default" in p for p in problems)
    assert any("Resources/Db/Properties/MasterUserPassword holds a literal value" in p for p in problems)
    template["Parameters"]["DbPassword"].pop("Default")
    template["Resources"]["Db"]["Properties"]["MasterUserPassword"] = (
        "{{resolve:secretsmanager:shop/db:SecretString:password}}")
    assert scan_structure("fixture.yaml", template) == []
    params = {"Parameters": {"GithubToken": "{{resolve:ssm-secure:/shop/github-token}}", "TokenParameterName": "x"}}
    assert scan_structure("params.json", params) == []


EXAMPLE_MODELS = sorted((ROOT / "examples" / "models").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLE_MODELS, ids=lambda p: p.stem)
def test_example_output_has_no_secret(path):
    """Every template and parameter file an example model renders (connection ARNs, SSM names…)."""
    from generator import model, paramgen, registry, render

    example = model.load(path)
    for cls in registry.stacks(example):
        template, text = render.rendered(cls)
        assert scan_text(f"{path.stem}/{cls.name}.yaml", text) == []
        assert scan_structure(f"{path.stem}/{cls.name}.yaml", template) == []
    for param_file, text in paramgen.expected_files(example).items():
        assert scan_text(str(param_file), text) == []
