"""Errors the user can act on. The CLI turns each into one line and an exit code."""

from __future__ import annotations

# Exit codes (documented in the README): 0 ok, 1 internal error, 2 bad input/usage,
# 3 AWS could not be read (not found, no credentials, access denied on the target itself),
# 4 invalid playbooks.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INPUT = 2
EXIT_AWS = 3
EXIT_PLAYBOOK = 4


class InvestigatorError(Exception):
    exit_code = EXIT_INTERNAL


class InputError(InvestigatorError):
    """A file, bundle or argument the user gave cannot be used."""

    exit_code = EXIT_INPUT


class AwsError(InvestigatorError):
    """The target itself cannot be read from AWS (not found, no credentials, denied).

    `retryable` tells an automated caller whether trying again later may succeed
    (throttling, an unreachable endpoint) or not (not found, access denied, no credentials).
    """

    exit_code = EXIT_AWS

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
