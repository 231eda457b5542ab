"""The one place that makes boto3 sessions and clients, counts API calls and maps AWS errors.

Every client shares one botocore Config (adaptive retries with a bounded number of attempts,
short timeouts, a user agent naming us). `AWS_ENDPOINT_URL` (and the per-service
`AWS_ENDPOINT_URL_<SERVICE>`) is honoured by boto3 itself, so a moto server or LocalStack
works without any code here. Errors on the *target* become AwsError (exit 3, one line);
errors on secondary sources become a Gap via `gap_from_error`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from investigator import __version__
from investigator.errors import AwsError, InputError
from investigator.models import Gap

USER_AGENT_EXTRA = f"investigator/{__version__}"

# Retries (botocore "Retries" guide, boto3 docs guide/retries.html): adaptive mode is standard
# mode (exponential backoff with jitter, base 1 s, capped at 20 s, on throttling and transient
# errors) plus a client-side token bucket that slows the client down after a throttle.
# MAX_ATTEMPTS counts the first call: 4 attempts = 1 + 3 retries, so one throttled read
# costs at most a few seconds before it becomes a gap or, for the target, an AwsError
# (the Lambda then retries the event, and its final attempt reports what it could read).
MAX_ATTEMPTS = 4
CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=15,
    user_agent_extra=USER_AGENT_EXTRA,
    max_pool_connections=10,
)
# The automation's own writes (claims, reports, pages, checkpoint): losing one costs a whole
# investigation, so they get more patience: 6 attempts (S3 503 SlowDown, SNS Throttling).
AUTOMATION_MAX_ATTEMPTS = 6
AUTOMATION_CONFIG = Config(
    retries={"mode": "adaptive", "total_max_attempts": AUTOMATION_MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra=f"{USER_AGENT_EXTRA} investigator-lambda",
)

# Seconds kept in reserve before a deadline: no new page or collector starts inside it.
DEADLINE_MARGIN_S = 2.0

_ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "NotAuthorized",
}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
_NOT_FOUND = {
    "ResourceNotFoundException",
    "ExecutionDoesNotExist",
    "StateMachineDoesNotExist",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "NoSuchEntity",
}

_counter_ids = itertools.count()


@dataclass
class ApiCounter:
    """Counts calls made through one session: logical calls and HTTP attempts (incl. retries)."""

    calls: int = 0
    requests: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    # Throttled responses per service id ("sagemaker", "sfn", ...), retried or not.
    throttled: dict[str, int] = field(default_factory=dict)
    _uid: str = field(default_factory=lambda: f"investigator-counter-{next(_counter_ids)}")

    @property
    def retries(self) -> int:
        return max(0, self.requests - self.calls)

    @property
    def total(self) -> int:
        """What an investigation reports: every request sent, at least every call made."""
        return max(self.requests, self.calls)

    def _on_call(self, model: Any = None, **_: Any) -> None:
        self.calls += 1
        name = getattr(model, "name", "?")
        self.by_operation[name] = self.by_operation.get(name, 0) + 1

    def _on_send(self, **_: Any) -> None:
        self.requests += 1

    def _on_response(self, parsed_response: Any = None, event_name: str = "", **_: Any) -> None:
        code = (parsed_response or {}).get("Error", {}).get("Code") if isinstance(
            parsed_response, dict) else None
        if code in _THROTTLED:
            service = event_name.split(".")[1] if event_name.count(".") >= 1 else "?"
            self.throttled[service] = self.throttled.get(service, 0) + 1

    def throttled_on(self, *services: str) -> int:
        return sum(self.throttled.get(s, 0) for s in services)

    def attach(self, session: boto3.Session) -> None:
        # Clients copy the session's event emitter when created: attach before creating them.
        session.events.register("before-call", self._on_call, unique_id=f"{self._uid}-call")
        session.events.register("before-send", self._on_send, unique_id=f"{self._uid}-send")
        session.events.register("response-received", self._on_response,
                                unique_id=f"{self._uid}-response")

    def detach(self, session: boto3.Session) -> None:
        session.events.unregister("before-call", unique_id=f"{self._uid}-call")
        session.events.unregister("before-send", unique_id=f"{self._uid}-send")
        session.events.unregister("response-received", unique_id=f"{self._uid}-response")


def make_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A boto3 session resolved like the AWS CLI (profile, env, config files)."""
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise InputError(f"AWS profile {profile!r} not found in the AWS config files") from None


@dataclass
class AwsContext:
    """What every collector gets: a session, its call counter, the region and the deadline."""

    session: boto3.Session
    region: str
    counter: ApiCounter
    deadline: float | None = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None) -> Any:
        """One client per service and region, all sharing CONFIG and the call counter."""
        key = f"{service}@{region or self.region}"
        if key not in self._clients:
            self._clients[key] = self.session.client(
                service, region_name=region or self.region, config=CONFIG
            )
        return self._clients[key]

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def out_of_time(self, margin: float = DEADLINE_MARGIN_S) -> bool:
        left = self.time_left()
        return left is not None and left <= margin


def open_context(
    *,
    profile: str | None,
    region: str | None,
    deadline: float | None,
    session: boto3.Session | None = None,
) -> AwsContext:
    """Resolve the session and region; raise AwsError when no region can be found."""
    sess = session or make_session(profile, region)
    resolved = region or sess.region_name
    if not resolved:
        raise AwsError("no AWS region: pass --region, set AWS_REGION, or configure a profile")
    counter = ApiCounter()
    counter.attach(sess)
    return AwsContext(session=sess, region=resolved, counter=counter, deadline=deadline)


def close_context(ctx: AwsContext) -> None:
    ctx.counter.detach(ctx.session)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        msg = exc.response.get("Error", {}).get("Message") or ""
        return str(msg) or error_code(exc)
    return str(exc) or type(exc).__name__


def is_access_denied(exc: BaseException) -> bool:
    return error_code(exc) in _ACCESS_DENIED


def is_throttled(exc: BaseException) -> bool:
    return error_code(exc) in _THROTTLED


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc)
    if code in _NOT_FOUND:
        return True
    # SageMaker answers a missing job with ValidationException "Requested resource not found"
    # (moto: "Could not find training job ...").
    msg = error_message(exc).lower()
    return code == "ValidationException" and ("not found" in msg or "could not find" in msg)


def fatal_error(exc: BaseException) -> AwsError | None:
    """Errors that make every call fail (credentials, region, endpoint): never a Gap."""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AwsError(
            "no AWS credentials found: set AWS_PROFILE / --profile, run `aws sso login`, "
            "or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, NoRegionError):
        return AwsError("no AWS region: pass --region, set AWS_REGION, or configure a profile")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return AwsError(f"cannot reach the AWS endpoint: {exc}", retryable=True)
    if error_code(exc) in _BAD_CREDENTIALS:
        # Expired session tokens come back fresh on the next invocation.
        return AwsError(
            f"AWS rejected the credentials ({error_code(exc)}): {error_message(exc)}",
            retryable=True,
        )
    return None


def target_error(exc: BaseException, what: str, region: str, action: str) -> AwsError:
    """The target itself cannot be read: one clear line for the user (exit 3)."""
    fatal = fatal_error(exc)
    if fatal is not None:
        return fatal
    if is_not_found(exc):
        return AwsError(f"{what} not found in {region}")
    if is_access_denied(exc):
        return AwsError(f"access denied reading {what}: the caller needs {action}")
    if is_throttled(exc):
        return AwsError(
            f"AWS throttled {action} on {what} after {MAX_ATTEMPTS} attempts", retryable=True
        )
    return AwsError(f"cannot read {what}: {error_code(exc)}: {error_message(exc)}", retryable=True)


def gap_from_error(source: str, exc: BaseException, action: str, what: str) -> Gap:
    """A secondary source that cannot be read becomes a named gap, never a traceback."""
    fatal = fatal_error(exc)
    if fatal is not None:
        raise fatal from None
    code = error_code(exc)
    if is_access_denied(exc):
        return Gap(
            source=source,
            code="AccessDenied",
            message=f"access denied: {action} on {what}",
            missing_permission=action,
        )
    if is_throttled(exc):
        return Gap(
            source=source,
            code="Throttling",
            message=f"{action} on {what} still throttled after {MAX_ATTEMPTS} attempts",
        )
    if is_not_found(exc):
        return Gap(source=source, code="NotFound", message=f"{what} not found ({action})")
    if isinstance(exc, ReadTimeoutError):
        return Gap(source=source, code="Timeout", message=f"{action} on {what} timed out")
    return Gap(source=source, code=code, message=f"{action} on {what}: {error_message(exc)}")


# Exceptions a collector turns into a Gap (everything botocore raises for a failed call).
AWS_ERRORS: tuple[type[BaseException], ...] = (ClientError, BotoCoreError)
