"""boto3 clients for the deploy tool: adaptive retries on throttling, optional local endpoint."""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_ATTEMPTS = 10


@dataclass
class Target:
    region: str = None
    profile: str = None
    endpoint_url: str = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


def retry_config(max_attempts: int = DEFAULT_MAX_ATTEMPTS):
    """botocore ``adaptive`` mode: retries throttling and transient errors with backoff and a
    client-side rate limiter that slows down when AWS throttles."""
    from botocore.config import Config

    return Config(retries={"mode": "adaptive", "total_max_attempts": max_attempts}, user_agent_extra="cfn-delivery")


class Clients:
    """Creates clients lazily (so validation failures never construct one)."""

    def __init__(self, target: Target, session=None):
        self.target = target
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
            self._clients[service] = self.session.client(service, **kwargs)
        return self._clients[service]

    @property
    def cfn(self):
        return self.get("cloudformation")

    @property
    def s3(self):
        return self.get("s3")
