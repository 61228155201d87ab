"""Parameter files (``params/<env>/<stack>.json``) checked against their template before any API call.

The format is CodePipeline's template configuration, which ``aws cloudformation
deploy --parameter-overrides file://...`` also reads::

    {"Parameters": {"Key": "value"}, "Tags": {"Key": "value"}, "StackPolicy": {...}}

Every problem becomes one line naming the file, the key, what was expected and the fix.

The template's ``Rules`` are evaluated locally too (:func:`check_rules`), with each parameter's
effective value (the file's, else the template default), so a combination CloudFormation would
refuse fails here, before any API call.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

TOP_LEVEL_KEYS = ("Parameters", "Tags", "StackPolicy")
MAX_TAGS = 50

# Shapes of AWS-specific parameter types; CloudFormation checks these against the account,
# we check the shape so a typo fails before any API call.
AWS_TYPE_PATTERNS = {
    "AWS::EC2::VPC::Id": (r"vpc-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a VPC id like vpc-0123456789abcdef0"),
    "AWS::EC2::Subnet::Id": (r"subnet-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a subnet id like subnet-0123456789abcdef0"),
    "AWS::EC2::SecurityGroup::Id": (r"sg-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a security group id like sg-0123456789abcdef0"),
    "AWS::EC2::Image::Id": (r"ami-[0-9a-f]{8}(?:[0-9a-f]{9})?", "an AMI id like ami-0123456789abcdef0"),
    "AWS::EC2::Instance::Id": (r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?", "an instance id like i-0123456789abcdef0"),
    "AWS::EC2::Volume::Id": (r"vol-[0-9a-f]{8}(?:[0-9a-f]{9})?", "a volume id like vol-0123456789abcdef0"),
    "AWS::EC2::KeyPair::KeyName": (r"[\x20-\x7e]{1,255}", "a key pair name"),
    "AWS::EC2::AvailabilityZone::Name": (r"[a-z]{2}(?:-[a-z]+)+-\d[a-z]", "an availability zone like eu-west-1a"),
    "AWS::Route53::HostedZone::Id": (r"Z[A-Z0-9]{1,32}", "a hosted zone id like Z0123456789ABCDEFGHIJ"),
    "AWS::SSM::Parameter::Name": (r"[a-zA-Z0-9_.\-/]{1,2048}", "an SSM parameter name like /project/key"),
}
SSM_VALUE_TYPE = re.compile(r"^AWS::SSM::Parameter::Value<.+>$")


class ParamFileError(ValueError):
    """Raised with every problem found; ``str()`` is one line per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class ParamFile:
    path: Path
    parameters: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    stack_policy: dict = None


def display(path) -> str:
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load(path) -> dict:
    """Parse the file; JSON errors name line and column."""
    name = display(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamFileError([f"{name}: file not found; create it with {{\"Parameters\": {{...}}, \"Tags\": {{...}}}}"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ParamFileError([f"{name}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}; fix the syntax there"])
    if not isinstance(data, dict):
        raise ParamFileError([f"{name}: top level must be an object {{\"Parameters\": {{...}}, \"Tags\": {{...}}}}"])
    return data


def _check_value(name, key, spec, value):
    """Problems with one parameter value (``value`` is a string)."""
    ptype = spec.get("Type", "String")
    where = f"{name}: Parameters.{key}"
    problems = []
    items = [value]
    item_type = ptype
    if ptype.startswith("List<") and ptype.endswith(">"):
        item_type = ptype[5:-1]
        items = [v.strip() for v in value.split(",")] if value else []
    elif ptype == "CommaDelimitedList":
        item_type = "String"
        items = [v.strip() for v in value.split(",")]
    for item in items:
        if item_type == "Number":
            try:
                number = float(item)
            except ValueError:
                problems.append(f"{where}: '{item}' is not a number; give digits, e.g. \"{spec.get('Default', 30)}\"")
                continue
            if "MinValue" in spec and number < float(spec["MinValue"]):
                problems.append(f"{where}: {item} is below MinValue {spec['MinValue']}; use a value >= {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                problems.append(f"{where}: {item} is above MaxValue {spec['MaxValue']}; use a value <= {spec['MaxValue']}")
        elif item_type in AWS_TYPE_PATTERNS:
            pattern, what = AWS_TYPE_PATTERNS[item_type]
            if not re.fullmatch(pattern, item):
                problems.append(f"{where}: '{item}' is not {what} (type {ptype})")
        elif SSM_VALUE_TYPE.match(item_type):
            if not re.fullmatch(AWS_TYPE_PATTERNS["AWS::SSM::Parameter::Name"][0], item):
                problems.append(f"{where}: '{item}' is not an SSM parameter name (type {ptype}); give the parameter's name, not its value")
    allowed = spec.get("AllowedValues")
    if allowed is not None:
        normal = {_normal(a) for a in allowed}
        for item in items if ptype.startswith("List<") or ptype == "CommaDelimitedList" else [value]:
            if _normal(item) not in normal:
                shown = ", ".join(str(a) for a in allowed)
                problems.append(f"{where}: '{item}' is not an allowed value; use one of: {shown}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None:
        for item in items if ptype == "CommaDelimitedList" else [value]:
            if not re.fullmatch(pattern, item):
                hint = spec.get("ConstraintDescription") or f"match {pattern}"
                problems.append(f"{where}: '{item}' does not match AllowedPattern {pattern}; expected {hint}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problems.append(f"{where}: value is shorter than MinLength {spec['MinLength']}")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problems.append(f"{where}: value is longer than MaxLength {spec['MaxLength']}")
    return problems


def _normal(value):
    text = str(value)
    try:
        number = float(text)
        return repr(number)
    except ValueError:
        return text


def _json_kind(value) -> str:
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    if isinstance(value, list):
        return "a JSON list"
    if isinstance(value, dict):
        return "a JSON object"
    if value is None:
        return "JSON null"
    return f"a {type(value).__name__}"


def _as_text(value):
    """The string a non-string JSON value stands for (as JSON spells it: ``true``, not ``True``),
    or None when there is no obvious one (objects, null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return ",".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    return None


def not_a_string(value, spec: dict) -> str:
    """Why a non-string value is refused, and the quoted value to write instead: the template's own
    spelling when it has ``AllowedValues`` (``true`` for a boolean, ``30`` for ``30.0``)."""
    kind = _json_kind(value)
    text = _as_text(value)
    allowed = spec.get("AllowedValues") if isinstance(spec, dict) else None
    if allowed:
        shown = ", ".join(str(a) for a in allowed)
        if text is not None:
            matches = [str(a) for a in allowed if str(a) == text] or \
                      [str(a) for a in allowed if str(a).lower() == text.lower()] or \
                      [str(a) for a in allowed if _normal(a) == _normal(text)]
            if matches:
                return (f"value must be a string, not {kind}; write \"{matches[0]}\" "
                        f"(quoted, as the template's AllowedValues spell it: {shown})")
        return f"value must be a string, not {kind}; write one of the AllowedValues, quoted: {shown}"
    if text is None:
        return f"value must be a string, not {kind}; write the value in quotes, e.g. \"...\""
    # never suggest a value the template's other constraints (AllowedPattern, lengths) refuse
    rejected = _check_value("f", "k", spec, text) if isinstance(spec, dict) else []
    if rejected:
        reason = rejected[0][len("f: Parameters.k: "):]
        return (f"value must be a string, not {kind}; \"{text}\" would be refused too ({reason}): write, quoted, "
                f"a value the template accepts")
    return f"value must be a string, not {kind}; write \"{text}\" (quoted)"


def _check_tags(name, tags):
    problems = []
    if not isinstance(tags, dict):
        return [f"{name}: Tags must be an object of string keys to string values, e.g. {{\"Team\": \"payments\"}}"]
    if len(tags) > MAX_TAGS:
        problems.append(f"{name}: Tags: {len(tags)} tags; AWS allows at most {MAX_TAGS}")
    for key, value in tags.items():
        where = f"{name}: Tags.{key}"
        if not isinstance(value, str):
            problems.append(f"{where}: {not_a_string(value, {})}")
            continue
        if not 1 <= len(key) <= 128:
            problems.append(f"{where}: tag keys are 1-128 characters")
        if len(value) > 256:
            problems.append(f"{where}: tag values are at most 256 characters")
        if key.lower().startswith("aws:"):
            problems.append(f"{where}: the aws: prefix is reserved for AWS; rename the tag")
        pattern = r"[\w\s.:/=+\-@]*"
        if not re.fullmatch(pattern, key) or not re.fullmatch(pattern, value):
            problems.append(f"{where}: tags may only use letters, digits, spaces and _ . : / = + - @")
    return problems


# -- template Rules ------------------------------------------------------------------

PSEUDO_PARAMETERS = ("AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
                     "AWS::StackId", "AWS::StackName", "AWS::URLSuffix")


class RuleError(ValueError):
    """A rule that cannot be evaluated locally (unsupported function, malformed arguments)."""


class _Unknown(Exception):
    """A referenced parameter has no value (reported elsewhere as required)."""


def _is_list_type(ptype: str) -> bool:
    return ptype == "CommaDelimitedList" or (ptype.startswith("List<") and ptype.endswith(">"))


def effective_values(template: dict, parameters: dict) -> dict:
    """Parameter name -> value as CloudFormation sees it in Rules: a string, or a list of strings
    for ``List<...>`` and ``CommaDelimitedList`` parameters (the file's value, else the default)."""
    values = {}
    for key, spec in (template.get("Parameters") or {}).items():
        if key in parameters and isinstance(parameters[key], str):
            raw = parameters[key]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            continue
        raw = raw if isinstance(raw, str) else (",".join(str(v) for v in raw) if isinstance(raw, list) else str(raw))
        values[key] = [v.strip() for v in raw.split(",")] if _is_list_type(spec.get("Type", "String")) and raw \
            else ([] if _is_list_type(spec.get("Type", "String")) else raw)
    return values


def _string(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise RuleError(f"expected a string, got {json.dumps(value)}")


def _strings(value, function):
    if not isinstance(value, list):
        raise RuleError(f"{function} expects a list of strings, got {json.dumps(value)}")
    return [_string(v) for v in value]


def _args(value, function, count):
    if not isinstance(value, list) or len(value) != count:
        raise RuleError(f"{function} takes a list of {count} arguments, got {json.dumps(value)}")
    return value


def _bool(value, function):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise RuleError(f"{function} expects conditions, got {json.dumps(value)}")


def evaluate(expression, values: dict):
    """Evaluate a Rules expression: ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Fn::Contains``,
    ``Fn::EachMemberEquals``, ``Fn::EachMemberIn`` and ``Ref`` to a parameter (``values``: from
    :func:`effective_values`). Anything else raises :class:`RuleError`."""
    if isinstance(expression, list):
        return [evaluate(item, values) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if len(expression) != 1:
        raise RuleError(f"expected one function, got {json.dumps(expression)}")
    [(function, arg)] = expression.items()
    if function == "Ref":
        if arg in PSEUDO_PARAMETERS:
            raise RuleError(f"Ref {arg}: pseudo parameters are not known before deployment")
        if arg not in values:
            raise _Unknown(arg)
        return values[arg]
    if function not in RULE_FUNCTIONS:
        raise RuleError(f"{function} is not supported locally; supported: Ref, {', '.join(RULE_FUNCTIONS)}")
    return RULE_FUNCTIONS[function](arg, values)


def _equals(arg, values):
    left, right = (evaluate(a, values) for a in _args(arg, "Fn::Equals", 2))
    if isinstance(left, list) or isinstance(right, list):
        return left == right
    return _string(left) == _string(right)


def _not(arg, values):
    [condition] = _args(arg, "Fn::Not", 1)
    return not _bool(evaluate(condition, values), "Fn::Not")


def _and(arg, values):
    if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
        raise RuleError(f"Fn::And takes 2 to 10 conditions, got {json.dumps(arg)}")
    return all(_bool(evaluate(c, values), "Fn::And") for c in arg)


def _or(arg, values):
    if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
        raise RuleError(f"Fn::Or takes 2 to 10 conditions, got {json.dumps(arg)}")
    return any(_bool(evaluate(c, values), "Fn::Or") for c in arg)


def _contains(arg, values):
    allowed, value = (evaluate(a, values) for a in _args(arg, "Fn::Contains", 2))
    return _string(value) in _strings(allowed, "Fn::Contains")


def _each_member_equals(arg, values):
    members, value = (evaluate(a, values) for a in _args(arg, "Fn::EachMemberEquals", 2))
    return all(m == _string(value) for m in _strings(members, "Fn::EachMemberEquals"))


def _each_member_in(arg, values):
    members, allowed = (evaluate(a, values) for a in _args(arg, "Fn::EachMemberIn", 2))
    allowed = set(_strings(allowed, "Fn::EachMemberIn"))
    return all(m in allowed for m in _strings(members, "Fn::EachMemberIn"))


RULE_FUNCTIONS = {
    "Fn::Equals": _equals, "Fn::Not": _not, "Fn::And": _and, "Fn::Or": _or, "Fn::Contains": _contains,
    "Fn::EachMemberEquals": _each_member_equals, "Fn::EachMemberIn": _each_member_in,
}


def _referenced(expression) -> list:
    """Parameter names an expression refers to, in order."""
    found = []
    if isinstance(expression, dict):
        for key, value in expression.items():
            if key == "Ref" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_referenced(value))
    elif isinstance(expression, list):
        for item in expression:
            found.extend(_referenced(item))
    return list(dict.fromkeys(found))


def _shown(value) -> str:
    return ",".join(value) if isinstance(value, list) else value


def check_rules(name: str, template: dict, parameters: dict) -> list:
    """One line per failed ``Rules`` assertion: file, rule, the assertion's description and the fix."""
    rules = template.get("Rules") or {}
    values = effective_values(template, parameters)
    problems = []
    for rule_name, rule in rules.items():
        where = f"{name}: Rules.{rule_name}"
        try:
            if "RuleCondition" in rule and not _bool(evaluate(rule["RuleCondition"], values), "RuleCondition"):
                continue
            for assertion in rule.get("Assertions") or []:
                if _bool(evaluate(assertion.get("Assert"), values), "Assert"):
                    continue
                refs = _referenced([rule.get("RuleCondition"), assertion.get("Assert")])
                now = ", ".join(f"{r}={_shown(values[r])!r}" for r in refs if r in values)
                description = assertion.get("AssertDescription") or "assertion failed"
                problems.append(f"{where}: {description}; fix: change {', '.join(refs)} (now {now})")
        except _Unknown:
            continue  # a parameter without a value is reported as required
        except RuleError as err:
            problems.append(f"{where}: cannot evaluate locally: {err}")
    return problems


def validate(path, template: dict) -> ParamFile:
    """Check the parameter file at ``path`` against ``template`` (a parsed template dict)."""
    name = display(path)
    data = load(path)
    problems = []
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"{name}: unknown top-level key '{key}'; allowed: {', '.join(TOP_LEVEL_KEYS)}")
    parameters = data.get("Parameters", {})
    if not isinstance(parameters, dict):
        raise ParamFileError(problems + [f"{name}: Parameters must be an object of names to string values"])
    declared = template.get("Parameters", {}) or {}
    for key, value in parameters.items():
        if key not in declared:
            problems.append(
                f"{name}: Parameters.{key}: unknown parameter; the template declares: {', '.join(declared)}"
            )
            continue
        if not isinstance(value, str):
            problems.append(f"{name}: Parameters.{key}: {not_a_string(value, declared[key])}")
            continue
        problems.extend(_check_value(name, key, declared[key], value))
    for key, spec in declared.items():
        if "Default" not in spec and key not in parameters:
            problems.append(f"{name}: Parameters.{key}: required (the template gives no default); add \"{key}\": \"...\"")
    tags = data.get("Tags", {})
    problems.extend(_check_tags(name, tags))
    policy = data.get("StackPolicy")
    if policy is not None and not (isinstance(policy, dict) and isinstance(policy.get("Statement"), list)):
        problems.append(f"{name}: StackPolicy must be a stack policy document with a Statement list")
    problems.extend(check_rules(name, template, parameters))
    if problems:
        raise ParamFileError(problems)
    return ParamFile(Path(path), dict(parameters), dict(tags) if isinstance(tags, dict) else {}, policy)
