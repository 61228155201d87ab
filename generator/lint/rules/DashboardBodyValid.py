"""A dashboard's body is JSON CloudWatch accepts: widgets on the 24-column grid, metrics and alarms present,
annotation values numbers, metric-math ids unique (E9141)."""
from __future__ import annotations

import json
import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.lint.rules._common import properties, resources

#: ``${Name}`` of Fn::Sub (not ``${!Literal}``); replaced by a value valid in a string and as a number.
VARIABLE = re.compile(r"\$\{(?!!)[^}]*\}")
TYPES = {"metric", "text", "log", "alarm", "explorer", "custom"}
#: "The array can have 1-100 ARNs" (alarm status widget).
MAX_ALARMS = 100
GRID = 24


def _body_text(body):
    """The body's text with every Sub variable replaced, or ``None`` when it is not a (Sub of a) string."""
    if isinstance(body, str):
        return body
    if isinstance(body, dict) and list(body) == ["Fn::Sub"]:
        sub = body["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            return VARIABLE.sub("0", text)
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def problems(body: dict) -> list:
    """What PutDashboard would refuse in ``body`` (parsed), as messages."""
    widgets = body.get("widgets") if isinstance(body, dict) else None
    if not isinstance(widgets, list):
        return ["the body has no widgets array"]
    found = []
    for index, widget in enumerate(widgets):
        where = f"widget {index}"
        if not isinstance(widget, dict) or widget.get("type") not in TYPES:
            found.append(f"{where}: type must be one of {', '.join(sorted(TYPES))}")
            continue
        props = widget.get("properties")
        where = f"widget {index} ({props.get('title') if isinstance(props, dict) else widget['type']})"
        x, width = widget.get("x", 0), widget.get("width", 6)
        if not all(_is_int(v) for v in (x, width, widget.get("y", 0), widget.get("height", 6))):
            found.append(f"{where}: x, y, width and height must be integers")
        elif not (0 <= x and 1 <= width and x + width <= GRID):
            found.append(f"{where}: x {x} + width {width} leaves the {GRID}-column grid")
        if not isinstance(props, dict):
            found.append(f"{where}: no properties")
            continue
        if widget["type"] == "metric":
            metrics = props.get("metrics")
            if not isinstance(metrics, list) or not metrics or not all(isinstance(m, list) for m in metrics):
                found.append(f"{where}: metrics must be a non-empty array of arrays")
                continue
            ids = [m[-1]["id"] for m in metrics if m and isinstance(m[-1], dict) and "id" in m[-1]]
            if len(ids) != len(set(ids)):
                found.append(f"{where}: metric ids repeat ({', '.join(sorted(ids))})")
            annotations = props.get("annotations", {})
            for side in ("horizontal", "vertical") if isinstance(annotations, dict) else ():
                for line in annotations.get(side, []):
                    value = line.get("value") if isinstance(line, dict) else None
                    if side == "horizontal" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                        found.append(f"{where}: horizontal annotation {line!r} has no number value")
        elif widget["type"] == "alarm":
            alarms = props.get("alarms")
            if not isinstance(alarms, list) or not 1 <= len(alarms) <= MAX_ALARMS:
                found.append(f"{where}: alarms must list 1-{MAX_ALARMS} alarm ARNs")
    return found


class DashboardBodyValid(CloudFormationLintRule):
    id = "E9141"
    shortdesc = "Dashboard bodies are JSON CloudWatch accepts"
    description = (
        "AWS::CloudWatch::Dashboard's DashboardBody is a string to the resource schema; CloudWatch validates it "
        "only at deploy time (PutDashboard: 'The dashboard body is invalid'). The body (a Fn::Sub text with its "
        "variables filled) must parse as JSON with a widgets array; each widget has a known type and fits the "
        "24-column grid, a metric widget has metrics with unique ids and number-valued horizontal annotations, "
        "an alarm widget 1-100 alarms."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-Dashboard-Body-Structure.html"
    tags = ["resources", "cloudwatch", "dashboard", "cfn-delivery"]

    def match(self, cfn):
        matches = []
        for logical_id, resource in resources(cfn, "AWS::CloudWatch::Dashboard"):
            path = ["Resources", logical_id, "Properties", "DashboardBody"]
            text = _body_text(properties(resource).get("DashboardBody"))
            if text is None:
                continue  # another intrinsic: nothing to read before deploy
            try:
                body = json.loads(text)
            except ValueError as err:
                matches.append(RuleMatch(path, f"DashboardBody of {logical_id} is not JSON: {err}"))
                continue
            for message in problems(body):
                matches.append(RuleMatch(path, f"DashboardBody of {logical_id}: {message}"))
        return matches
