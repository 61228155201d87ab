"""Fn::ForEach expansion (generator/review/foreach.py), case by case against the documented behaviour
(intrinsic-function-reference-foreach.html)."""
import pytest

from generator.review import check, foreach


def expand(template, values=None):
    return foreach.expand(template, values)


def test_resources_outputs_and_conditions_loops():
    template = {
        "Conditions": {"Fn::ForEach::Envs": ["Env", ["dev", "prod"], {"Is${Env}": {"Fn::Equals": [{"Ref": "Env"}, "x"]}}]},
        "Resources": {"Fn::ForEach::Q": ["N", ["a-1", "b.2"], {"Queue&{N}": {
            "Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-${N}-${AWS::Region}"},
                                                      "Tag": {"Ref": "N"}}}}]},
        "Outputs": {"Fn::ForEach::O": ["N", ["a-1"], {"Out&{N}": {"Value": {"Fn::GetAtt": [{"Fn::Sub": "Queue&{N}"},
                                                                                           "Arn"]}}}]},
    }
    out = expand(template)
    assert out["Conditions"] == {"Isdev": {"Fn::Equals": ["dev", "x"]}, "Isprod": {"Fn::Equals": ["prod", "x"]}}
    assert out["Resources"] == {
        "Queuea1": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-a-1-${AWS::Region}"},
                                                               "Tag": "a-1"}},
        "Queueb2": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-b.2-${AWS::Region}"},
                                                               "Tag": "b.2"}}}
    assert out["Outputs"] == {"Outa1": {"Value": {"Fn::GetAtt": ["Queuea1", "Arn"]}}}
    assert template["Resources"].keys() == {"Fn::ForEach::Q"}  # the input is left as it was


def test_nested_loops_and_a_loop_inside_properties():
    template = {"Resources": {"Fn::ForEach::Outer": ["A", ["x", "y"], {
        "Fn::ForEach::Inner": ["B", ["1", "2"], {"T${A}${B}": {"Type": "AWS::SNS::Topic"}}]}]}}
    assert sorted(expand(template)["Resources"]) == ["Tx1", "Tx2", "Ty1", "Ty2"]
    props = {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
        "Fn::ForEach::Vars": ["V", ["A", "B"], {"VAR_${V}": {"Fn::Sub": "value-${V}"}}]}}}}}}
    assert expand(props)["Resources"]["Fn"]["Properties"]["Environment"]["Variables"] == {
        "VAR_A": "value-A", "VAR_B": "value-B"}


def test_collection_from_a_parameter_value_its_default_or_a_mapping():
    template = {"Parameters": {"Names": {"Type": "CommaDelimitedList", "Default": "a, b"}},
                "Mappings": {"Sets": {"dev": {"names": ["m", "n"]}}},
                "Resources": {"Fn::ForEach::P": ["N", {"Ref": "Names"}, {"P${N}": {"Type": "AWS::SNS::Topic"}}],
                              "Fn::ForEach::M": ["N", {"Fn::FindInMap": ["Sets", "dev", "names"]},
                                                 {"M${N}": {"Type": "AWS::SNS::Topic"}}]}}
    assert sorted(expand(template)["Resources"]) == ["Mm", "Mn", "Pa", "Pb"]
    assert sorted(expand(template, {"Names": "c"})["Resources"]) == ["Mm", "Mn", "Pc"]
    assert sorted(expand(template, {"Names": ""})["Resources"]) == ["Mm", "Mn"]


def test_escaped_sub_variables_and_other_references_stay():
    template = {"Resources": {"Fn::ForEach::P": ["N", ["a"], {"P${N}": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Value": {"Fn::Sub": "${!Literal}-${N}"}, "Name": {"Fn::Sub": ["${N}-${X}", {"X": {"Ref": "N"}}]},
        "Other": {"Ref": "AWS::Region"}}}}]}}
    props = expand(template)["Resources"]["Pa"]["Properties"]
    assert props == {"Value": {"Fn::Sub": "${!Literal}-a"}, "Name": {"Fn::Sub": ["a-${X}", {"X": "a"}]},
                     "Other": {"Ref": "AWS::Region"}}


def test_deletion_policy_by_parameter_is_resolved_when_known():
    template = {"Transform": "AWS::LanguageExtensions",
                "Parameters": {"Keep": {"Type": "String", "Default": "Retain"}},
                "Resources": {"B": {"Type": "AWS::S3::Bucket", "DeletionPolicy": {"Ref": "Keep"}}}}
    assert check.check(template)["Resources"]["B"]["DeletionPolicy"] == "Retain"
    assert check.check(template, {"Keep": "Delete"})["Resources"]["B"]["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize("template, message", [
    ({"Resources": {"Fn::ForEach::P": ["N", {"Fn::GetAZs": ""}, {"P${N}": {"Type": "AWS::SNS::Topic"}}]}},
     "Resources.Fn::ForEach::P: the collection {\"Fn::GetAZs\": \"\"} cannot be worked out before deployment"),
    ({"Resources": {"Fn::ForEach::P": ["N", [{"Fn::ImportValue": "x"}], {"P${N}": {"Type": "AWS::SNS::Topic"}}]}},
     "Resources.Fn::ForEach::P: collection item {\"Fn::ImportValue\": \"x\"} cannot be worked out"),
    ({"Resources": {"Fn::ForEach::P-1": ["N", ["a"], {"P${N}": {"Type": "AWS::SNS::Topic"}}]}},
     "Resources.Fn::ForEach::P-1: a loop is named Fn::ForEach::<letters and digits>"),
    ({"Resources": {"Pa": {"Type": "AWS::SNS::Topic"},
                    "Fn::ForEach::P": ["N", ["a"], {"P${N}": {"Type": "AWS::SNS::Topic"}}]}},
     "Resources.Fn::ForEach::P: gives 'Pa' twice"),
])
def test_what_cannot_be_expanded_is_one_line(template, message):
    with pytest.raises(foreach.ForEachError) as err:
        expand(template)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
