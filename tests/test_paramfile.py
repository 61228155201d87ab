"""Parameter files: the committed ones validate; bad ones give one clear line naming file and key."""
import json

import pytest

from generator import paramfile, paths, registry
from generator.cli import validate_params
from tests.helpers import PARAMS, load_template


def committed_param_files():
    for env in sorted(p.name for p in PARAMS.iterdir() if p.is_dir()):
        for stack_cls in registry.for_environment(env):
            yield env, stack_cls.name


@pytest.mark.parametrize("env,stack", list(committed_param_files()))
def test_committed_param_file_is_valid(env, stack):
    path = PARAMS / env / f"{stack}.json"
    assert path.exists(), f"{path} missing"
    result = paramfile.validate(path, load_template(stack))
    assert result.parameters["EnvironmentName"] == env


def test_every_environment_has_every_stack_it_deploys(monkeypatch):
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(PARAMS.parent))
    assert validate_params(paths.environments(), []) == []
    assert {"tools", "dev", "staging", "prod"} <= set(paths.environments())


def test_prod_keeps_logs_longer_than_dev():
    prod = json.loads((PARAMS / "prod" / "foundation.json").read_text())["Parameters"]
    dev = json.loads((PARAMS / "dev" / "foundation.json").read_text())["Parameters"]
    assert int(prod["LogRetentionDays"]) > int(dev["LogRetentionDays"])


TEMPLATE = {
    "Parameters": {
        "EnvironmentName": {"Type": "String", "AllowedPattern": "^[a-z][a-z0-9]{1,7}$",
                            "ConstraintDescription": "2-8 lower-case letters or digits"},
        "Retention": {"Type": "Number", "Default": 30, "AllowedValues": [1, 30, 90]},
        "Size": {"Type": "Number", "Default": 2, "MinValue": 1, "MaxValue": 4},
        "Name": {"Type": "String", "Default": "abc", "MinLength": 2, "MaxLength": 5},
        "Vpc": {"Type": "AWS::EC2::VPC::Id", "Default": "vpc-12345678"},
        "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": "subnet-12345678"},
    }
}


def write(tmp_path, content) -> str:
    path = tmp_path / "stack.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


def problems(tmp_path, content):
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(write(tmp_path, content), TEMPLATE)
    for line in err.value.problems:
        assert "\n" not in line and "stack.json" in line
    return err.value.problems


def test_valid_fixture_passes(tmp_path):
    result = paramfile.validate(write(tmp_path, {"Parameters": {"EnvironmentName": "dev", "Retention": "90"},
                                                 "Tags": {"Team": "payments"}}), TEMPLATE)
    assert result.parameters == {"EnvironmentName": "dev", "Retention": "90"}
    assert result.tags == {"Team": "payments"}


def test_malformed_json_names_line_and_column(tmp_path):
    [line] = problems(tmp_path, '{\n  "Parameters": {\n    "EnvironmentName": "dev",\n  }\n}')
    assert "stack.json:4:3: invalid JSON" in line


def test_unknown_key(tmp_path):
    [line] = problems(tmp_path, {"Parameters": {"EnvironmentName": "dev", "Retentoin": "30"}})
    assert "Parameters.Retentoin: unknown parameter" in line and "Retention" in line


def test_missing_required(tmp_path):
    [line] = problems(tmp_path, {"Parameters": {}})
    assert "Parameters.EnvironmentName: required" in line


def test_bad_allowed_value(tmp_path):
    [line] = problems(tmp_path, {"Parameters": {"EnvironmentName": "dev", "Retention": "45"}})
    assert "Parameters.Retention: '45' is not an allowed value; use one of: 1, 30, 90" in line


def test_bad_pattern(tmp_path):
    [line] = problems(tmp_path, {"Parameters": {"EnvironmentName": "Prod_1"}})
    assert "Parameters.EnvironmentName: 'Prod_1' does not match AllowedPattern" in line
    assert "2-8 lower-case" in line


def test_min_max_value_and_length(tmp_path):
    found = problems(tmp_path, {"Parameters": {"EnvironmentName": "dev", "Size": "9", "Name": "abcdefg"}})
    assert any("Parameters.Size: 9 is above MaxValue 4" in p for p in found)
    assert any("Parameters.Name: value is longer than MaxLength 5" in p for p in found)


def test_aws_specific_types(tmp_path):
    found = problems(tmp_path, {"Parameters": {"EnvironmentName": "dev", "Vpc": "vpc_1",
                                               "Subnets": "subnet-12345678,sub-2"}})
    assert any("Parameters.Vpc: 'vpc_1' is not a VPC id" in p for p in found)
    assert any("Parameters.Subnets: 'sub-2' is not a subnet id" in p for p in found)


def test_non_string_value_and_bad_tags(tmp_path):
    found = problems(tmp_path, {"Parameters": {"EnvironmentName": "dev", "Retention": 30},
                                "Tags": {"aws:owner": "x", "Team": 5}})
    assert any("Parameters.Retention: value must be a string" in p for p in found)
    assert any("Tags.aws:owner: the aws: prefix is reserved" in p for p in found)
    assert any("Tags.Team: value must be a string" in p for p in found)


def test_unknown_top_level_key(tmp_path):
    [line] = problems(tmp_path, {"Parameters": {"EnvironmentName": "dev"}, "Tag": {}})
    assert "unknown top-level key 'Tag'" in line


def test_missing_file(tmp_path):
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(tmp_path / "nope.json", TEMPLATE)
    assert "nope.json: file not found" in str(err.value)
