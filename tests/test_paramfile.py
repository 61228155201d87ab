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


# -- template Rules, evaluated locally -------------------------------------------------------

def committed(env, stack):
    return json.loads((PARAMS / env / f"{stack}.json").read_text())


def rule_problems(tmp_path, stack, data):
    path = tmp_path / f"{stack}.json"
    path.write_text(json.dumps(data))
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(path, load_template(stack))
    for line in err.value.problems:
        assert "\n" not in line and f"{stack}.json: Rules." in line
    return err.value.problems


def test_public_beanstalk_without_certificate_fails_its_rule(tmp_path):
    data = committed("prod", "beanstalk-env")
    assert data["Parameters"]["LoadBalancerScheme"] == "internet-facing"
    data["Parameters"]["CertificateArn"] = ""
    [line] = rule_problems(tmp_path, "beanstalk-env", data)
    description = load_template("beanstalk-env")["Rules"]["PublicLoadBalancerNeedsCertificate"]["Assertions"][0][
        "AssertDescription"]
    assert "beanstalk-env.json: Rules.PublicLoadBalancerNeedsCertificate: " in line
    assert description in line
    assert "fix: change LoadBalancerScheme, CertificateArn (now LoadBalancerScheme='internet-facing', CertificateArn='')" in line


def test_certificate_without_host_name_and_min_above_max_fail(tmp_path):
    data = committed("prod", "beanstalk-env")
    data["Parameters"].update({"ServiceHostName": "", "MinSize": "5", "MaxSize": "3"})
    found = rule_problems(tmp_path, "beanstalk-env", data)
    assert len(found) == 2
    assert any("Rules.CertificateNeedsServiceHostName: With a certificate, set ServiceHostName" in p for p in found)
    assert any("Rules.MaxSizeAtLeastMinSize5: MaxSize must be at least MinSize (5)" in p
               and "(now MinSize='5', MaxSize='3')" in p for p in found)


def test_default_values_count_for_rules(tmp_path):
    """A parameter left out takes its default (MaxSize 2), which breaks MinSize 3."""
    data = committed("dev", "beanstalk-env")
    data["Parameters"]["MinSize"] = "3"
    del data["Parameters"]["MaxSize"]
    [line] = rule_problems(tmp_path, "beanstalk-env", data)
    assert "Rules.MaxSizeAtLeastMinSize3" in line and "MaxSize='2'" in line


def test_ecs_fargate_size_rules(tmp_path):
    data = committed("prod", "ecs-service")
    data["Parameters"].update({"TaskCpu": "256", "TaskMemory": "4096"})
    [line] = rule_problems(tmp_path, "ecs-service", data)
    assert "Rules.FargateMemoryFor256Cpu: Fargate rejects this TaskMemory with 256 CPU" in line
    data["Parameters"]["TaskMemory"] = "2048"
    path = tmp_path / "ok.json"
    path.write_text(json.dumps(data))
    paramfile.validate(path, load_template("ecs-service"))


def test_good_files_pass_their_rules():
    for env in ("dev", "staging", "prod"):
        for stack in ("beanstalk-env", "ecs-service"):
            template = load_template(stack)
            assert template.get("Rules"), stack
            assert paramfile.check_rules("f.json", template, committed(env, stack)["Parameters"]) == []


def test_params_validate_cli_reports_a_broken_rule_with_exit_2(tmp_path, monkeypatch, capsys):
    import shutil

    from generator import cli
    from tests.helpers import copy_model

    root = tmp_path / "repo"
    copy_model(root)
    shutil.copytree(PARAMS, root / "params")
    shutil.copytree(PARAMS.parent / "templates", root / "templates")
    path = root / "params" / "prod" / "beanstalk-env.json"
    data = json.loads(path.read_text())
    data["Parameters"]["CertificateArn"] = ""
    path.write_text(json.dumps(data))
    monkeypatch.setenv("CFN_DELIVERY_ROOT", str(root))
    assert cli.main(["params", "validate", "--env", "prod", "--stack", "beanstalk-env"]) == 2
    err = capsys.readouterr().err
    assert "beanstalk-env.json: Rules.PublicLoadBalancerNeedsCertificate:" in err


RULE_VALUES = {"Scheme": "public", "Cert": "", "Subnets": ["subnet-1", "subnet-2"], "Size": "3"}


@pytest.mark.parametrize("expression,expected", [
    ({"Fn::Equals": [{"Ref": "Scheme"}, "public"]}, True),
    ({"Fn::Equals": [{"Ref": "Size"}, 3]}, True),  # rule values are strings; numbers compare as strings
    ({"Fn::Equals": [{"Ref": "Cert"}, "x"]}, False),
    ({"Fn::Not": [{"Fn::Equals": [{"Ref": "Cert"}, ""]}]}, False),
    ({"Fn::And": [{"Fn::Equals": [{"Ref": "Scheme"}, "public"]}, {"Fn::Equals": [{"Ref": "Cert"}, ""]}]}, True),
    ({"Fn::And": [{"Fn::Equals": [{"Ref": "Scheme"}, "public"]}, {"Fn::Equals": [{"Ref": "Cert"}, "x"]}]}, False),
    ({"Fn::Or": [{"Fn::Equals": [{"Ref": "Scheme"}, "internal"]}, {"Fn::Equals": [{"Ref": "Cert"}, ""]}]}, True),
    ({"Fn::Or": [{"Fn::Equals": [{"Ref": "Scheme"}, "internal"]}, {"Fn::Equals": [{"Ref": "Cert"}, "x"]}]}, False),
    ({"Fn::Contains": [["1", "2", "3"], {"Ref": "Size"}]}, True),
    ({"Fn::Contains": [["1", "2"], {"Ref": "Size"}]}, False),
    ({"Fn::EachMemberEquals": [{"Ref": "Subnets"}, "subnet-1"]}, False),
    ({"Fn::EachMemberEquals": [["a", "a"], "a"]}, True),
    ({"Fn::EachMemberIn": [{"Ref": "Subnets"}, ["subnet-1", "subnet-2", "subnet-3"]]}, True),
    ({"Fn::EachMemberIn": [{"Ref": "Subnets"}, ["subnet-1"]]}, False),
])
def test_rule_functions(expression, expected):
    assert paramfile.evaluate(expression, RULE_VALUES) is expected


def test_list_parameters_are_lists_in_rules():
    template = {"Parameters": {"Subnets": {"Type": "List<AWS::EC2::Subnet::Id>", "Default": "subnet-a, subnet-b"},
                               "Names": {"Type": "CommaDelimitedList"}, "Count": {"Type": "Number", "Default": 2}}}
    values = paramfile.effective_values(template, {"Names": "x,y"})
    assert values == {"Subnets": ["subnet-a", "subnet-b"], "Names": ["x", "y"], "Count": "2"}


@pytest.mark.parametrize("expression,message", [
    ({"Fn::ValueOf": ["Subnets", "VpcId"]}, "Fn::ValueOf is not supported locally; supported: Ref, Fn::Equals"),
    ({"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}, "Ref AWS::Region: pseudo parameters are not known"),
    ({"Fn::Equals": ["a"]}, "Fn::Equals takes a list of 2 arguments"),
    ({"Fn::Not": ["maybe"]}, "Fn::Not expects conditions"),
])
def test_unsupported_rule_functions_give_a_clear_error(expression, message):
    with pytest.raises(paramfile.RuleError, match=message.replace("(", r"\(")):
        paramfile.evaluate(expression, RULE_VALUES)


def test_unsupported_function_in_a_template_rule_is_one_problem_line(tmp_path):
    template = {"Parameters": {"Vpc": {"Type": "String", "Default": "v"}},
                "Rules": {"SubnetsInVpc": {"Assertions": [{"Assert": {"Fn::EachMemberEquals": [
                    {"Fn::ValueOfAll": ["AWS::EC2::Subnet::Id", "VpcId"]}, {"Ref": "Vpc"}]}}]}}}
    path = write(tmp_path, {"Parameters": {}})
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(path, template)
    [line] = err.value.problems
    assert "stack.json: Rules.SubnetsInVpc: cannot evaluate locally: Fn::ValueOfAll is not supported locally" in line


# -- non-string values: the suggestion is a value the template accepts ---------------------------

FLAGS = {"Parameters": {
    "EnableAlarms": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"]},
    "Legacy": {"Type": "String", "Default": "True", "AllowedValues": ["True", "False"]},
    "Mode": {"Type": "String", "Default": "on", "AllowedValues": ["on", "off"]},
    "Retention": {"Type": "Number", "Default": 30, "AllowedValues": [1, 30, 90]},
    "Size": {"Type": "Number", "Default": 2},
    "Names": {"Type": "CommaDelimitedList", "Default": "a"},
    "Answer": {"Type": "String", "Default": "no", "AllowedPattern": "^(yes|no)$", "ConstraintDescription": "yes or no"},
}}


def flag_problem(tmp_path, key, value):
    path = write(tmp_path, {"Parameters": {key: value}})
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(path, FLAGS)
    [line] = err.value.problems
    return line.split(": ", 1)[1]


@pytest.mark.parametrize("key,value,expected", [
    ("EnableAlarms", False, 'Parameters.EnableAlarms: value must be a string, not a JSON boolean; write "false" '
                            "(quoted, as the template's AllowedValues spell it: true, false)"),
    ("EnableAlarms", True, 'Parameters.EnableAlarms: value must be a string, not a JSON boolean; write "true" '
                           "(quoted, as the template's AllowedValues spell it: true, false)"),
    ("Legacy", False, 'Parameters.Legacy: value must be a string, not a JSON boolean; write "False" '
                      "(quoted, as the template's AllowedValues spell it: True, False)"),
    ("Mode", True, "Parameters.Mode: value must be a string, not a JSON boolean; write one of the AllowedValues, "
                   "quoted: on, off"),
    ("Retention", 90, 'Parameters.Retention: value must be a string, not a JSON number; write "90" '
                      "(quoted, as the template's AllowedValues spell it: 1, 30, 90)"),
    ("Retention", 30.0, 'Parameters.Retention: value must be a string, not a JSON number; write "30" '
                        "(quoted, as the template's AllowedValues spell it: 1, 30, 90)"),
    ("Size", 3, 'Parameters.Size: value must be a string, not a JSON number; write "3" (quoted)'),
    ("Names", ["a", "b"], 'Parameters.Names: value must be a string, not a JSON list; write "a,b" (quoted)'),
    ("Size", None, 'Parameters.Size: value must be a string, not JSON null; write the value in quotes, e.g. "..."'),
    ("Answer", False, "Parameters.Answer: value must be a string, not a JSON boolean; \"false\" would be refused too "
                      "('false' does not match AllowedPattern ^(yes|no)$; expected yes or no): write, quoted, a value "
                      "the template accepts"),
])
def test_non_string_value_suggests_what_the_template_accepts(tmp_path, key, value, expected):
    assert flag_problem(tmp_path, key, value) == expected


def test_suggested_value_then_validates(tmp_path):
    """The fix the message gives is accepted: quote what it says and validation passes."""
    import re

    for key, value in (("EnableAlarms", False), ("Legacy", True), ("Retention", 30.0), ("Names", ["a", "b"])):
        suggestion = re.search(r'write "([^"]*)"', flag_problem(tmp_path, key, value)).group(1)
        paramfile.validate(write(tmp_path, {"Parameters": {key: suggestion}}), FLAGS)


def test_non_string_tag_value_is_spelled_as_json(tmp_path):
    path = write(tmp_path, {"Parameters": {"EnvironmentName": "dev"}, "Tags": {"Billable": True}})
    with pytest.raises(paramfile.ParamFileError) as err:
        paramfile.validate(path, TEMPLATE)
    [line] = err.value.problems
    assert line.endswith('Tags.Billable: value must be a string, not a JSON boolean; write "true" (quoted)')
