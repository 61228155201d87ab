"""The AWS side of the stack model: boto3 clients (adaptive retries, optional local endpoint) and
reading a deployed stack (DescribeStacks, GetTemplate)."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from .. import yamlio

DEFAULT_MAX_ATTEMPTS = 10


@dataclass
class Target:
    """Where the clients go: region and profile (``None``: boto3's defaults), a local endpoint."""
    region: str = None
    profile: str = None
    endpoint_url: str = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def retry_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS):
    """botocore ``adaptive`` mode: retries throttling and transient errors with backoff and a
    client-side rate limiter that slows down when AWS throttles.
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html"""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts}, user_agent_extra="cfn-delivery")


class NotAwsAnswer(Exception):
    """The endpoint answered with something that is not an AWS API response (an HTML page from a
    proxy, a web server on the wrong port): raised before botocore's parser trips over it."""


def _check_answer(response_dict=None, operation_model=None, **kwargs):
    """``before-parse`` hook: an HTML page is not an AWS answer (AWS speaks XML or JSON)."""
    body = (response_dict or {}).get("body")
    if not isinstance(body, (bytes, bytearray)) or not body:
        return
    headers = {str(k).lower(): str(v) for k, v in ((response_dict or {}).get("headers") or {}).items()}
    start = bytes(body[:64]).lstrip().lower()
    if "html" in headers.get("content-type", "") or start.startswith((b"<!doctype html", b"<html")):
        status = response_dict.get("status_code")
        raise NotAwsAnswer(f"{getattr(operation_model, 'name', 'the call')} got HTTP {status} with an HTML page "
                           f"({headers.get('content-type', 'no content type')}), not an AWS response")


class Clients:
    """Creates clients lazily (so validation failures never construct one)."""

    def __init__(self, target: Target = None, session=None):
        self.target = target or Target()
        self._session = session
        self._clients = {}

    @property
    def session(self):
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(profile_name=self.target.profile, region_name=self.target.region)
        return self._session

    def get(self, service: str):
        if service not in self._clients:
            kwargs = {"config": retry_config(self.target.max_attempts)}
            if self.target.endpoint_url:
                kwargs["endpoint_url"] = self.target.endpoint_url
            if service == "s3" and self.target.endpoint_url:
                from botocore.config import Config

                kwargs["config"] = kwargs["config"].merge(Config(s3={"addressing_style": "path"}))
            client = self.session.client(service, **kwargs)
            client.meta.events.register("before-parse", _check_answer)
            client.meta.events.register("before-call", _observe_call)
            self._clients[service] = client
        return self._clients[service]

    @property
    def cfn(self):
        return self.get("cloudformation")

    @property
    def s3(self):
        return self.get("s3")


#: Active :class:`ApiCalls` counters (see there).
_COUNTERS: list = []


def _observe_call(model=None, **kwargs):
    """``before-call`` hook of every client: once per API call (retries are below it)."""
    for counter in _COUNTERS:
        counter.calls[f"{model.service_model.service_name}:{model.name}"] += 1


class ApiCalls:
    """Counts the API calls of every :class:`Clients` client while active, by ``service:Operation``
    (``with ApiCalls() as calls: ...``): what a deploy costs, e.g. a deploy that changes nothing
    (bench/bench.py prints it, tests/deploy/test_real_stacks.py asserts it creates no change set)."""

    def __init__(self):
        self.calls = Counter()

    def __enter__(self):
        _COUNTERS.append(self)
        return self

    def __exit__(self, *exc):
        _COUNTERS.remove(self)

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def change_sets(self) -> int:
        return self.calls["cloudformation:CreateChangeSet"]


def cloudformation_client(region=None, profile=None, endpoint_url=None, max_attempts: int = DEFAULT_MAX_ATTEMPTS):
    """A CloudFormation client from :class:`Clients` (the same retries and endpoint handling)."""
    return Clients(Target(region=region, profile=profile, endpoint_url=endpoint_url, max_attempts=max_attempts)).cfn


def describe_stack(cfn, stack_name: str):
    """The stack's DescribeStacks entry, or ``None`` when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as err:
        info = err.response.get("Error", {})
        if info.get("Code") == "ValidationError" and "does not exist" in info.get("Message", ""):
            return None
        raise


def deployed_template(cfn, stack_name: str) -> dict:
    """The deployed stack's template as submitted (GetTemplate ``Original``), parsed.

    botocore hands back a JSON body already decoded (as ``OrderedDict``s); a YAML body comes as
    text and is read with :mod:`generator.yamlio` (short-form intrinsics become long form)."""
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    return _parsed(body)


def change_set_template(cfn, stack_name: str, change_set_name: str):
    """The template a change set would deploy (GetTemplate with ``ChangeSetName``), parsed; ``None``
    when the answer has no body."""
    body = cfn.get_template(StackName=stack_name, ChangeSetName=change_set_name,
                            TemplateStage="Original").get("TemplateBody")
    return _parsed(body) if body else None


def _parsed(body) -> dict:
    if isinstance(body, str):
        return yamlio.load(body)
    return json.loads(json.dumps(body))  # plain dicts, so templates compare by value
