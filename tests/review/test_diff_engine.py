"""The semantic diff engine on small templates: replacement from the schemas, IAM and
network broadening/narrowing, parameters, outputs, no-change cases."""
import copy

import pytest

from generator.review import replacement
from generator.review.diff import diff_templates


def tpl(resources=None, parameters=None, outputs=None):
    out = {"Resources": resources or {}}
    if parameters:
        out["Parameters"] = parameters
    if outputs:
        out["Outputs"] = outputs
    return out


def one_change(before, after):
    result = diff_templates("s", before, after)
    assert len(result.resources) == 1, result.resources
    return result.resources[0]


def bucket(**props):
    return {"Type": "AWS::S3::Bucket", "Properties": props}


# -- replacement ------------------------------------------------------------------

def test_schema_create_only_properties_come_from_cfn_lint():
    strict, conditional = replacement.create_only("AWS::DynamoDB::Table")
    assert ("TableName",) in strict and ("KeySchema",) in conditional
    assert replacement.create_only("AWS::Nope::Unknown") == ((), ())  # no schema: nothing known


def test_bucket_name_literal_change_replaces():
    change = one_change(tpl({"B": bucket(BucketName="a")}), tpl({"B": bucket(BucketName="b")}))
    assert (change.replacement, change.risks) == (True, ["data-loss"])


def test_create_only_property_depending_on_references_is_conditional():
    before = tpl({"B": bucket(BucketName={"Ref": "NameA"})})
    after = tpl({"B": bucket(BucketName={"Ref": "NameB"})})
    change = one_change(before, after)
    assert change.replacement == "conditional"
    assert change.risks == ["data-loss"]
    assert "depends on resolved values" in change.notes[0]


def test_table_key_schema_change_with_plain_values_replaces():
    def table(key):
        return {"Type": "AWS::DynamoDB::Table", "Properties": {"KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}}
    change = one_change(tpl({"T": table("id")}), tpl({"T": table("pk")}))
    assert (change.replacement, change.risks) == (True, ["data-loss"])
    assert "every change of it replaces" in change.notes[0] and "resolved values" not in change.notes[0]
    by_ref = one_change(tpl({"T": table("id")}), tpl({"T": table({"Ref": "Key"})}))
    assert by_ref.replacement == "conditional" and "depends on resolved values" in by_ref.notes[0]


def test_other_conditionally_create_only_change_names_the_real_reason():
    def instance(size):
        return {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-1", "InstanceType": size}}
    change = one_change(tpl({"I": instance("t3.micro")}), tpl({"I": instance("t3.large")}))
    assert change.replacement == "conditional"
    assert change.notes == ["replacement: InstanceType is conditionally create-only; the kind of change decides"]


def test_same_references_different_text_replaces():
    before = tpl({"B": bucket(BucketName={"Fn::Sub": "${P}-logs"})})
    after = tpl({"B": bucket(BucketName={"Fn::Join": ["-", [{"Ref": "P"}, "audit"]]})})
    assert one_change(before, after).replacement is True


def test_adding_a_create_only_property_replaces():
    change = one_change(tpl({"B": bucket()}), tpl({"B": bucket(BucketName="x")}))
    assert change.replacement is True


def test_mutable_property_does_not_replace():
    change = one_change(tpl({"B": bucket(VersioningConfiguration={"Status": "Suspended"})}),
                        tpl({"B": bucket(VersioningConfiguration={"Status": "Enabled"})}))
    assert (change.replacement, change.risks, change.properties) == (False, [], ["VersioningConfiguration.Status"])


def test_conditional_create_only_from_schema():
    def table(key):
        return {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}}
    change = one_change(tpl({"T": table("id")}), tpl({"T": table("pk")}))
    # conditionally create-only in the schema, but a new key is always a new table (issue 16)
    assert change.replacement is True
    assert change.risks == ["data-loss"]


def test_type_change_replaces():
    change = one_change(tpl({"Q": {"Type": "AWS::SNS::Topic"}}), tpl({"Q": {"Type": "AWS::SQS::Queue"}}))
    assert change.replacement is True and "Type" in change.properties


def test_a_property_named_type_is_not_the_type_attribute():
    lb = lambda kind: {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Type": kind}}  # noqa: E731
    change = one_change(tpl({"L": lb("application")}), tpl({"L": lb("network")}))
    assert (change.properties, change.replacement) == (["Type"], True)


def test_removing_a_stateless_resource_is_not_data_loss():
    result = diff_templates("s", tpl({"T": {"Type": "AWS::SNS::Topic"}}), tpl({}))
    assert [(c.change, c.risks) for c in result.resources] == [("remove", [])]


def test_different_resources_are_not_a_rename():
    before = tpl({"Old": bucket(BucketName="a", VersioningConfiguration={"Status": "Enabled"})})
    after = tpl({"New": bucket(BucketName="b", ObjectLockEnabled=True)})
    result = diff_templates("s", before, after)
    assert [(c.logical_id, c.change, c.risks) for c in result.resources] == [
        ("Old", "remove", ["data-loss"]), ("New", "add", [])]


# -- no change ----------------------------------------------------------------------

def test_spelling_variants_are_no_change():
    statement = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}
    before = tpl({
        "R": {"Type": "AWS::IAM::ManagedPolicy", "DependsOn": ["B"],
              "Properties": {"PolicyDocument": {"Statement": [statement, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}}},
        "B": bucket(Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]),
    })
    after = copy.deepcopy(before)
    after["Resources"]["R"]["DependsOn"] = "B"
    doc = after["Resources"]["R"]["Properties"]["PolicyDocument"]
    doc["Statement"] = list(reversed(doc["Statement"]))
    doc["Statement"][1] = {"Resource": "*", "Action": "S3:GetObject", "Effect": "Allow"}
    after["Resources"]["B"]["Properties"]["Tags"].reverse()
    assert not diff_templates("s", before, after).changed


def test_order_of_ordinary_lists_matters():
    before = tpl({"B": bucket(LifecycleConfiguration={"Rules": [{"Id": "a", "Status": "Enabled"}, {"Id": "b", "Status": "Enabled"}]})})
    after = copy.deepcopy(before)
    after["Resources"]["B"]["Properties"]["LifecycleConfiguration"]["Rules"].reverse()
    assert diff_templates("s", before, after).changed


# -- IAM ------------------------------------------------------------------------------

def policy(*statements, rtype="AWS::IAM::ManagedPolicy", key="PolicyDocument", **extra):
    return {"Type": rtype, "Properties": {key: {"Version": "2012-10-17", "Statement": list(statements)}, **extra}}


def allow(action, resource="*", **extra):
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize("old,new,flag", [
    ("s3:GetObject", "s3:Get*", "iam-broadening"),
    ("s3:*", "s3:GetObject", "iam-narrowing"),
    (["s3:GetObject", "s3:PutObject"], ["s3:GetObject"], "iam-narrowing"),
])
def test_wildcards_are_matched(old, new, flag):
    change = one_change(tpl({"P": policy(allow(old))}), tpl({"P": policy(allow(new))}))
    assert change.risks == [flag]


def test_new_resource_is_broadening():
    change = one_change(tpl({"P": policy(allow("s3:GetObject", "arn:aws:s3:::a/*"))}),
                        tpl({"P": policy(allow("s3:GetObject", ["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"]))}))
    assert change.risks == ["iam-broadening"]
    assert change.notes == ["iam-broadening: policy Allow: resource added: arn:aws:s3:::b/*"]


def test_condition_removed_broadens_and_added_narrows():
    trust = {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}
    guarded = dict(trust, Condition={"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}})
    role = lambda s: policy(s, rtype="AWS::IAM::Role", key="AssumeRolePolicyDocument")  # noqa: E731
    wider = one_change(tpl({"R": role(guarded)}), tpl({"R": role(trust)}))
    assert wider.risks == ["iam-broadening"]
    assert wider.notes == ["iam-broadening: trust policy Allow: condition removed: StringEquals aws:SourceAccount=!Ref 'AWS::AccountId'"]
    assert one_change(tpl({"R": role(trust)}), tpl({"R": role(guarded)})).risks == ["iam-narrowing"]


def test_removing_a_deny_broadens():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    read = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject", "Resource": "*"}
    bp = lambda *s: policy(*s, rtype="AWS::S3::BucketPolicy", Bucket="b")  # noqa: E731
    assert one_change(tpl({"P": bp(deny, read)}), tpl({"P": bp(read)})).risks == ["iam-broadening"]
    assert one_change(tpl({"P": bp(read)}), tpl({"P": bp(deny, read)})).risks == ["iam-narrowing"]


def test_key_policy_new_principal_broadens():
    stmt = {"Effect": "Allow", "Principal": {"Service": "logs.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}
    wider = dict(stmt, Principal={"Service": ["logs.amazonaws.com", "sns.amazonaws.com"]})
    key = lambda s: policy(s, rtype="AWS::KMS::Key", key="KeyPolicy")  # noqa: E731
    change = one_change(tpl({"K": key(stmt)}), tpl({"K": key(wider)}))
    assert (change.replacement, change.risks) == (False, ["iam-broadening"])
    assert "principal added: Service:sns.amazonaws.com" in change.notes[0]


def test_managed_policy_attached_broadens():
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}}
    after = copy.deepcopy(role)
    after["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
    change = one_change(tpl({"R": role}), tpl({"R": after}))
    assert change.risks == ["iam-broadening"]
    assert change.notes == ["iam-broadening: managed policy attached: arn:aws:iam::aws:policy/AdministratorAccess"]


def test_policy_attached_to_another_role_broadens():
    before = policy(allow("s3:GetObject"), rtype="AWS::IAM::Policy", PolicyName="p", Roles=[{"Ref": "A"}])
    after = copy.deepcopy(before)
    after["Properties"]["Roles"].append({"Ref": "B"})
    assert one_change(tpl({"P": before}), tpl({"P": after})).risks == ["iam-broadening"]


# -- security groups --------------------------------------------------------------------

def sg(*rules):
    return {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "x", "SecurityGroupIngress": list(rules)}}


def rule(cidr, low, high=None, proto="tcp"):
    return {"IpProtocol": proto, "FromPort": low, "ToPort": high if high is not None else low, "CidrIp": cidr}


@pytest.mark.parametrize("old,new,flags", [
    (rule("0.0.0.0/0", 443), rule("10.0.0.0/8", 443), ["iam-narrowing"]),
    (rule("10.0.0.0/8", 443), rule("10.1.0.0/16", 443), ["iam-narrowing"]),
    (rule("10.0.0.0/8", 443), rule("10.0.0.0/8", 443, 444), ["iam-broadening"]),
    (rule("10.0.0.0/8", 443), rule("10.0.0.0/8", 0, 0, proto="-1"), ["iam-broadening"]),
    (rule("10.0.0.0/8", 443), rule("10.0.0.0/8", "443"), []),
])
def test_ingress_rules(old, new, flags):
    result = diff_templates("s", tpl({"G": sg(old)}), tpl({"G": sg(new)}))
    assert [f for c in result.resources for f in c.risks] == flags


def test_new_ingress_resource_to_the_world_is_network_exposure():
    ingress = {"Type": "AWS::EC2::SecurityGroupIngress",
               "Properties": {"GroupId": {"Ref": "G"}, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}}
    change = one_change(tpl({}), tpl({"Ssh": ingress}))
    assert change.change == "add" and change.risks == ["network-exposure"]
    assert "the whole internet" in change.notes[0]


def test_new_ingress_resource_from_a_network_broadens():
    ingress = {"Type": "AWS::EC2::SecurityGroupIngress",
               "Properties": {"GroupId": {"Ref": "G"}, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8"}}
    change = one_change(tpl({}), tpl({"Ssh": ingress}))
    assert change.change == "add" and change.risks == ["iam-broadening"]


def test_new_security_group_default_egress_is_not_exposure():
    group = {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "g", "VpcId": "vpc-1"}}
    assert one_change(tpl({}), tpl({"G": group})).risks == []


def test_removing_every_egress_rule_restores_the_default_to_the_world():
    rule = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/8"}
    before = {"Type": "AWS::EC2::SecurityGroup",
              "Properties": {"GroupDescription": "g", "VpcId": "vpc-1", "SecurityGroupEgress": [rule]}}
    after = {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "g", "VpcId": "vpc-1"}}
    change = one_change(tpl({"G": before}), tpl({"G": after}))
    assert change.risks == ["network-exposure"]
    assert "default rule" in change.notes[0]


def test_retention_by_reference_is_not_judged_until_resolved():
    def logs(days):
        return {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": days}}
    assert one_change(tpl({"L": logs(90)}), tpl({"L": logs({"Ref": "Days"})})).risks == []
    assert one_change(tpl({"L": logs(90)}), tpl({"L": logs("14")})).risks == ["retention-reduced"]


def test_ambiguous_statements_without_sid_stay_whole():
    def doc(*statements):
        return {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": list(statements)}}}
    a = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    b = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}
    c = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}
    # two old and one new statement share effect and resource: no guess, the sets are shown
    change = one_change(tpl({"P": doc(a, b)}), tpl({"P": doc(c)}))
    assert sorted(v.path for v in change.values) == ["PolicyDocument.Statement[Action=s3:GetObject]",
                                                     "PolicyDocument.Statement[Action=s3:ListBucket]",
                                                     "PolicyDocument.Statement[Action=s3:PutObject]"]
    deny = dict(a, Effect="Deny")
    change = one_change(tpl({"P": doc(a, deny)}), tpl({"P": doc(a)}))
    assert [v.path for v in change.values] == ["PolicyDocument.Statement[Deny Action=s3:GetObject]"]


def test_conditions_decide_which_resources_exist_when_values_are_known():
    from generator.review.resolve import conditions
    template = {"Parameters": {"Env": {"Type": "String"}, "Secret": {"Type": "String", "NoEcho": True}},
                "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                               "InUsEast": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                               "ProdOrUs": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "InUsEast"}]},
                               "ProdAndUs": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "InUsEast"}]},
                               "HasSecret": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Secret"}, ""]}]}},
                "Resources": {}}
    assert conditions(template, {"Env": "prod", "Secret": "x"}) == {
        "IsProd": True, "InUsEast": None, "ProdOrUs": True, "ProdAndUs": None, "HasSecret": None}
    assert conditions(template, {"Env": "dev"})["ProdAndUs"] is False
    topic = {"Type": "AWS::SNS::Topic", "Condition": "IsProd"}
    template["Resources"] = {"T": topic}
    result = diff_templates("s", template, template, {"Env": "dev"}, {"Env": "prod"})
    assert [(r.logical_id, r.change) for r in result.resources] == [("T", "add")]
    assert diff_templates("s", template, template).resources == []  # no values: nothing evaluated


def test_decided_fn_if_is_the_branch_cloudformation_takes():
    template = {"Parameters": {"Env": {"Type": "String"}},
                "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                               "InUsEast": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
                "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
                    "RetentionInDays": {"Fn::If": ["IsProd", 365, 7]},
                    "KmsKeyId": {"Fn::If": ["IsProd", "key", {"Ref": "AWS::NoValue"}]},
                    "LogGroupClass": {"Fn::If": ["InUsEast", "STANDARD", "INFREQUENT_ACCESS"]}}}}}
    [change] = diff_templates("s", template, template, {"Env": "prod"}, {"Env": "dev"}).resources
    assert [(v.path, v.old, v.new) for v in change.values] == [("RetentionInDays", 365, 7), ("KmsKeyId", "key", None)]
    assert change.risks == ["retention-reduced"]


# -- parameters and outputs -------------------------------------------------------------

def test_parameter_changes():
    before = tpl(parameters={"A": {"Type": "Number", "Default": 30, "Description": "x"}, "Gone": {"Type": "String"}})
    after = tpl(parameters={"A": {"Type": "Number", "Default": 90, "Description": "y"}, "New": {"Type": "String", "Default": ""}})
    result = diff_templates("s", before, after)
    got = [(p.name, p.change, p.properties, p.risks) for p in result.parameters]
    assert got == [("A", "modify", ["Default", "Description"], ["parameter"]),
                   ("Gone", "remove", [], ["parameter"]),
                   ("New", "add", [], ["parameter"])]
    only_description = tpl(parameters={"A": {"Type": "Number", "Default": 30, "Description": "y"}, "Gone": {"Type": "String"}})
    assert [p.risks for p in diff_templates("s", before, only_description).parameters] == [[]]


def test_deployed_parameter_values_are_compared():
    t = tpl(parameters={"A": {"Type": "String"}, "Secret": {"Type": "String", "NoEcho": True}})
    result = diff_templates("s", t, t, {"A": "1", "Secret": "****"}, {"A": "2", "Secret": "x"})
    assert [(p.name, p.change, p.values[0].old, p.values[0].new) for p in result.parameters] == [("A", "value", "1", "2")]


def test_export_renamed_is_flagged_but_moved_export_is_not():
    out = lambda name: {"Value": {"Ref": "T"}, "Export": {"Name": {"Fn::Sub": name}}}  # noqa: E731
    res = {"T": {"Type": "AWS::SNS::Topic"}}
    renamed = diff_templates("s", tpl(res, outputs={"O": out("${AWS::StackName}-A")}),
                             tpl(res, outputs={"O": out("${AWS::StackName}-B")}))
    assert [(o.name, o.change, o.risks) for o in renamed.outputs] == [("O", "modify", ["output"])]
    moved = diff_templates("s", tpl(res, outputs={"O": out("${AWS::StackName}-A")}),
                           tpl(res, outputs={"P": out("${AWS::StackName}-A")}))
    assert [(o.name, o.change, o.risks) for o in moved.outputs] == [("O", "remove", []), ("P", "add", [])]


def test_removed_stack_reports_resources_and_lost_exports():
    old = tpl({"B": bucket()}, parameters={"A": {"Type": "String"}},
              outputs={"N": {"Value": {"Ref": "B"}, "Export": {"Name": "x-N"}}})
    result = diff_templates("s", old, None)
    assert result.status == "removed"
    assert [(c.change, c.risks) for c in result.resources] == [("remove", ["data-loss"])]
    assert [(o.name, o.risks) for o in result.outputs] == [("N", ["output"])]
    assert result.parameters == []


# -- parameter values (deployed mode) ------------------------------------------------------

def test_resolved_parameter_values_reveal_replacements():
    from generator.review.resolve import resolve

    t = tpl({"B": bucket(BucketName={"Fn::Sub": "${Project}-logs-${AWS::AccountId}"}, Tags=[{"Key": "k", "Value": {"Ref": "Secret"}}])},
            parameters={"Project": {"Type": "String"}, "Secret": {"Type": "String", "NoEcho": True}})
    unresolved = diff_templates("s", t, t)
    assert not unresolved.resources
    resolved = diff_templates("s", resolve(t, {"Project": "a", "Secret": "****"}), resolve(t, {"Project": "b", "Secret": "x"}))
    [change] = resolved.resources
    assert (change.properties, change.replacement, change.risks) == (["BucketName"], True, ["data-loss"])
    assert change.values[0].new == {"Fn::Sub": "b-logs-${AWS::AccountId}"}


def test_conditional_statements_count_both_branches():
    guarded = {"Fn::If": ["IsProd", allow("s3:PutObject"), {"Ref": "AWS::NoValue"}]}
    change = one_change(tpl({"P": policy(allow("s3:GetObject"))}), tpl({"P": policy(allow("s3:GetObject"), guarded)}))
    assert change.risks == ["iam-broadening"]
    assert change.notes == ["iam-broadening: policy Allow: action added: s3:PutObject"]
