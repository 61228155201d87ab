"""What both ECS service kinds share: the ingress stacks' validation contract (exports, security group,
URL) and TLS Rules, the service stacks' capacity Rules, and the split between the two."""
import json

import pytest

from generator import paramgen, registry
from generator.kinds import CONTAINER_KINDS
from generator.stacks.ecs_web import MAX_CAPACITY, MIN_CAPACITY, IngressStack, LoadBalancedFargateStack
from tests.helpers import PARAMS, load_template, resources, walk

#: The service and ingress stacks of every container application of the model.
SERVICE_CLASSES = [s for s in registry.stacks() if issubclass(s, LoadBalancedFargateStack)]
INGRESS_CLASSES = [s for s in registry.stacks() if issubclass(s, IngressStack)]
SERVICES = [s.name for s in SERVICE_CLASSES]
INGRESS = {s.name: s.INGRESS.stack for s in SERVICE_CLASSES}
STACKS = SERVICES + list(INGRESS.values())


def test_one_service_and_one_ingress_stack_per_container_application():
    apps = [a for a in registry.stacks()[0].model.applications if a.kind in CONTAINER_KINDS]
    assert apps and [s.app for s in SERVICE_CLASSES] == apps and [s.app for s in INGRESS_CLASSES] == apps
    for service, ingress in zip(SERVICE_CLASSES, INGRESS_CLASSES):
        assert (service.name, ingress.name) == (f"{service.app.name}-service", f"{service.app.name}-ingress")
        assert INGRESS[service.name] == ingress.name and service.environments == ingress.environments


@pytest.fixture(scope="module", params=STACKS)
def stack(request):
    return request.param, load_template(request.param)


@pytest.fixture(scope="module", params=list(INGRESS.values()))
def ingress(request):
    return request.param, load_template(request.param)


@pytest.fixture(scope="module", params=SERVICES)
def service(request):
    return request.param, load_template(request.param)


def evaluate(expression, values):
    """The Rules functions the templates use, evaluated on a parameter set (strings, as CloudFormation sees them)."""
    if isinstance(expression, dict):
        [(name, args)] = expression.items()
        if name == "Ref":
            return values[args]
        if name == "Fn::Equals":
            return evaluate(args[0], values) == evaluate(args[1], values)
        if name == "Fn::Not":
            return not evaluate(args[0], values)
        if name == "Fn::Contains":
            return evaluate(args[1], values) in [evaluate(a, values) for a in args[0]]
        raise AssertionError(f"unexpected function {name}")
    return str(expression)


def broken_rules(template, values) -> list:
    params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    params.update(values)
    return sorted(name for name, rule in template["Rules"].items()
                  if evaluate(rule.get("RuleCondition", True), params)
                  and not all(evaluate(a["Assert"], params) for a in rule["Assertions"]))


def test_parameter_files_pass_the_rules(stack):
    name, template = stack
    cls = registry.get(name)
    for env in cls.environments:
        values = json.loads((PARAMS / env / f"{name}.json").read_text())["Parameters"]
        assert set(values) <= set(template["Parameters"]), env
        effective = paramgen.parameter_values(cls, env)  # the file's value, else the template default
        assert set(effective) == set(template["Parameters"]), f"{env}: a parameter has neither value nor default"
        assert {k: effective[k] for k in values} == values
        assert broken_rules(template, effective) == [], env


def test_public_load_balancer_requires_a_certificate_and_a_certificate_a_host_name(ingress):
    _, template = ingress
    public = {"LoadBalancerScheme": "internet-facing", "CertificateArn": "", "ServiceHostName": ""}
    assert broken_rules(template, public) == ["PublicLoadBalancerHasCertificate"]
    certificate = dict(public, CertificateArn="arn:aws:acm:eu-west-1:111122223333:certificate/x")
    assert broken_rules(template, certificate) == ["CertificateHasHostName"]
    assert broken_rules(template, dict(certificate, ServiceHostName="shop.example.com")) == []


@pytest.mark.parametrize("low", MIN_CAPACITY)
@pytest.mark.parametrize("high", MAX_CAPACITY)
def test_min_capacity_may_not_exceed_max_capacity(service, low, high):
    _, template = service
    broken = broken_rules(template, {"MinCapacity": str(low), "MaxCapacity": str(high)})
    assert bool(broken) is (low > high), broken
    assert template["Parameters"]["MinCapacity"]["AllowedValues"] == MIN_CAPACITY
    assert template["Parameters"]["MaxCapacity"]["AllowedValues"] == MAX_CAPACITY


def test_validation_contract_exports(ingress):
    name, template = ingress
    outputs = template["Outputs"]
    for key in ("VpcId", "ValidationSubnetIds", "ValidationSecurityGroupId", "ServiceUrl"):
        assert outputs[key]["Export"]["Name"] == {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-%s" % (name, key)}
    assert outputs["VpcId"]["Value"] == {"Ref": "VpcId"}
    assert outputs["ValidationSubnetIds"]["Value"] == {"Fn::Join": [",", {"Ref": "PrivateSubnetIds"}]}
    assert outputs["ValidationSecurityGroupId"]["Value"] == {"Fn::GetAtt": ["ValidationSecurityGroup", "GroupId"]}
    # With a certificate validation calls the name the certificate covers, never the load balancer's DNS name.
    assert outputs["ServiceUrl"]["Value"] == {"Fn::If": ["HasCertificate", {"Fn::Sub": "https://${ServiceHostName}"},
                                                         {"Fn::Sub": ["http://${Dns}", {"Dns": {"Fn::GetAtt": [
                                                             "LoadBalancer", "DNSName"]}}]}]}


def test_validation_group_reaches_the_listener_ports_and_the_load_balancer_admits_it(ingress):
    _, template = ingress
    group = template["Resources"]["ValidationSecurityGroup"]["Properties"]
    ports = [{"Fn::If": ["HasCertificate", 443, 80]}, {"Ref": "TestListenerPort"}]
    to_lb = [r for r in group["SecurityGroupEgress"] if "DestinationSecurityGroupId" in r]
    assert [r["FromPort"] for r in to_lb] == ports
    assert all(r["DestinationSecurityGroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}
               for r in to_lb)
    [https] = [r for r in group["SecurityGroupEgress"] if "CidrIp" in r]
    assert https["FromPort"] == https["ToPort"] == 443
    admitted = [r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
                if r["Properties"].get("SourceSecurityGroupId") == {"Fn::GetAtt": ["ValidationSecurityGroup", "GroupId"]}]
    assert [r["FromPort"] for r in admitted] == ports
    assert all(r["GroupId"] == {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]} for r in admitted)


def test_port_80_only_redirects(ingress):
    _, template = ingress
    listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    on_80 = [k for k, v in listeners.items() if v["Properties"]["Port"] == 80]
    assert on_80 == ["HttpRedirectListener"]
    [action] = listeners["HttpRedirectListener"]["Properties"]["DefaultActions"]
    assert action["Type"] == "redirect" and action["RedirectConfig"]["Protocol"] == "HTTPS"


def test_public_environments_have_tls_and_unprotected_ones_are_internal():
    """In the sample the protected (last) wave is public with TLS; every other environment is internal."""
    for cls in INGRESS_CLASSES:
        for env in cls.environments:
            values = paramgen.parameter_values(cls, env)
            if values["LoadBalancerScheme"] == "internet-facing":
                assert values["CertificateArn"] and values["ServiceHostName"], (cls.name, env)
            if not cls.model.environment(env).protected:
                assert values["LoadBalancerScheme"] == "internal", (cls.name, env)
        last = paramgen.parameter_values(cls, cls.app.waves[-1])
        assert last["LoadBalancerScheme"] == "internet-facing", cls.name


def test_the_two_stacks_of_one_environment_use_different_physical_names():
    names = {}
    for name in STACKS:
        template = load_template(name)
        for logical_id, resource in template["Resources"].items():
            for key in ("ServiceName", "ClusterName", "Family", "RoleName", "AlarmName", "LogGroupName"):
                value = resource.get("Properties", {}).get(key)
                if value is not None:
                    names.setdefault(json.dumps(value, sort_keys=True), []).append(f"{name}/{logical_id}")
    assert not {k: v for k, v in names.items() if len({p.split('/')[0] for p in v}) > 1}


def test_templates_stay_deployable_inline():
    from tests.helpers import TEMPLATES
    for name in STACKS:
        assert (TEMPLATES / f"{name}.yaml").stat().st_size < 51200


@pytest.mark.parametrize("name", SERVICES)
def test_the_service_stack_takes_its_load_balancer_from_its_ingress_stack(name):
    """The split: the service stack requires its ingress stack and imports every load balancer value from it."""
    from generator import registry
    template = load_template(name)
    for env in registry.get(name).environments:  # derived from the template's imports
        assert INGRESS[name] in registry.requires(registry.get(name), env)
    assert not resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert not resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    [service] = resources(template, "AWS::ECS::Service").values()
    [entry] = service["Properties"]["LoadBalancers"]
    assert entry["TargetGroupArn"] == {"Fn::ImportValue": {"Fn::Sub": "${ProjectName}-${EnvironmentName}-%s-"
                                                                        "BlueTargetGroupArn" % INGRESS[name]}}
    ingress_outputs = load_template(INGRESS[name])["Outputs"]
    prefix = "${ProjectName}-${EnvironmentName}-%s-" % INGRESS[name]
    imported = {v["Fn::ImportValue"]["Fn::Sub"][len(prefix):] for v in walk(template["Resources"])
                if isinstance(v, dict) and isinstance(v.get("Fn::ImportValue"), dict)
                and str(v["Fn::ImportValue"].get("Fn::Sub", "")).startswith(prefix)}
    assert imported and imported <= set(ingress_outputs)

