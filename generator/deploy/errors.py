"""Exit codes and one-line messages for every expected failure."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1       # the deployment failed (change set or execution), or AWS refused a call
EXIT_USAGE = 2        # invalid input: parameter file, environment config, flags; no API call made
EXIT_REFUSED = 3      # the tool refused (protected environment guard, confirmation not given)
EXIT_UNKNOWN = 4      # outcome unknown: contact lost after the execution started; it continues in CloudFormation
EXIT_INTERRUPTED = 130  # Ctrl-C: before execution nothing changed (change set deleted); while watching the
                        # operation continues in CloudFormation


class DeployError(Exception):
    """An expected failure: printed as ``error: <message>`` (no traceback without --debug)."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(DeployError):
    exit_code = EXIT_USAGE


class Refused(DeployError):
    exit_code = EXIT_REFUSED


class Interrupted(DeployError):
    exit_code = EXIT_INTERRUPTED


class OutcomeUnknown(DeployError):
    """Contact with CloudFormation was lost after ExecuteChangeSet was (or may have been) accepted:
    the operation may be running; it is not reported as failed (nor as done)."""
    exit_code = EXIT_UNKNOWN


def reported(run, *, debug: bool = False, usage: tuple = (), note=lambda err: "") -> int:
    """``run()``, with every expected failure printed as ``error: <one line>`` (more lines after it)
    and turned into its exit code: ``usage`` errors (the model or a file does not load) exit 2, a
    :class:`DeployError` its own code, Ctrl-C 130, an AWS/botocore error (or an endpoint that is not
    AWS) 1. ``note(err)`` is appended to the first line (deploy: what happened to its change set).
    ``debug`` re-raises instead (a traceback); anything unexpected is always re-raised."""
    import sys

    def say(message):
        print(f"error: {message}", file=sys.stderr)

    try:
        return run()
    except KeyboardInterrupt as err:
        if debug:
            raise
        extra = note(err)
        say(f"interrupted before execution: nothing was executed{extra}" if extra else "interrupted")
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug:
            raise
        if usage and isinstance(err, usage):
            for line in str(err).splitlines():
                say(line)
            return EXIT_USAGE
        if isinstance(err, DeployError):
            first, *more = str(err).splitlines() or [""]
            say(first + note(err))
            for line in more:
                print(line, file=sys.stderr)
            return err.exit_code
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(err, (BotoCoreError, ClientError)) or is_not_aws(err):
            say(one_line(err) + note(err))
            return EXIT_FAILED
        raise


def is_not_aws(err: BaseException) -> bool:
    """botocore could not read the answer as an AWS response (an endpoint that is not AWS)."""
    try:
        from botocore.parsers import ResponseParserError
    except ImportError:  # pragma: no cover
        return False
    from ..stackmodel.aws import NotAwsAnswer

    return isinstance(err, (ResponseParserError, NotAwsAnswer))


def one_line(err: BaseException) -> str:
    """A readable single line for an AWS/botocore error (or any exception)."""
    try:
        from botocore import exceptions as bx
    except ImportError:  # pragma: no cover - boto3 is a dependency
        bx = None
    if bx is not None:
        if isinstance(err, bx.ClientError):
            info = err.response.get("Error", {})
            op = getattr(err, "operation_name", "") or "AWS call"
            code = info.get("Code", "Error")
            message = (info.get("Message") or "").strip()
            hint = _HINTS.get(code, "")
            return _flat(f"{op} failed: {code}: {message}{hint}")
        if isinstance(err, bx.NoCredentialsError):
            return "no AWS credentials found: set AWS_PROFILE / --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        if isinstance(err, bx.ProfileNotFound):
            return _flat(f"{err}; list profiles with `aws configure list-profiles`")
        if isinstance(err, bx.NoRegionError):
            return "no AWS region: pass --region, set AWS_REGION, or set the environment's region in delivery.yaml"
        if isinstance(err, bx.EndpointConnectionError):
            return _flat(f"cannot reach the AWS endpoint: {err}; check --endpoint-url / network")
        if isinstance(err, bx.WaiterError):
            return _flat(f"waiting failed: {err}")
        if isinstance(err, bx.BotoCoreError):
            return _flat(str(err))
    if is_not_aws(err):
        first = (str(err).strip().splitlines() or [""])[0]
        return _flat(f"the endpoint did not answer like AWS ({first[:160]}); check --endpoint-url, AWS_ENDPOINT_URL "
                     f"and proxy settings")
    return _flat(f"{type(err).__name__}: {err}")


_HINTS = {
    "ExpiredToken": " (refresh your credentials, e.g. `aws sso login`)",
    "ExpiredTokenException": " (refresh your credentials, e.g. `aws sso login`)",
    "AccessDenied": " (the caller lacks this permission)",
    "AccessDeniedException": " (the caller lacks this permission)",
    "InsufficientCapabilitiesException": " (the template needs a capability the tool did not derive)",
    "Throttling": " (retries exhausted; try again later)",
    "ThrottlingException": " (retries exhausted; try again later)",
}


def _flat(text: str) -> str:
    return " ".join(str(text).split())
