"""What an automated caller learns from an AwsError: can a retry succeed?"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from investigator.aws import target_error


def _client_error(code: str, message: str = "x") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "DescribeExecution")


@pytest.mark.parametrize(
    ("exc", "retryable", "says"),
    [
        (_client_error("ExecutionDoesNotExist"), False, "not found"),
        (_client_error("AccessDeniedException"), False, "access denied"),
        (NoCredentialsError(), False, "no AWS credentials"),
        (_client_error("ThrottlingException", "Rate exceeded"), True, "throttled"),
        (EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com"), True,
         "cannot reach"),
        (_client_error("ExpiredTokenException"), True, "rejected the credentials"),
    ],
)
def test_target_errors_say_whether_a_retry_can_help(exc, retryable, says):
    err = target_error(exc, "execution arn:x", "us-east-1", "states:DescribeExecution")
    assert err.retryable is retryable
    assert says in str(err)
    assert err.exit_code == 3
