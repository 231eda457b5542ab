"""Facts join the log: a job's hyperparameters and input channels decide between categories.

The same log line means different things depending on what the job was given: a ValueError
naming `num_train_epochs` is a bad hyperparameter when the job was started with one of that
name, and a missing /opt/ml/input/data/<channel> is a paths problem when the job never declared
that channel. Facts come from the SageMaker collector's real shape (`job_facts` over a
CreateTrainingJob request, as Step Functions passes it).
"""

from __future__ import annotations

from investigator.classifier import classify, default_library
from investigator.collectors import sagemaker as sm
from investigator.models import Evidence, LogEvent, LogStream, Target
from tests.collectors import helpers as h


def _investigate(lines: list[str], facts: dict) -> tuple[str, str]:
    ev = Evidence(
        target=Target(kind="job", name="j"),
        facts=facts,
        logs=[LogStream(name="algo-1", events=[LogEvent(message=m) for m in lines])],
    )
    inv = classify(ev, default_library())
    return inv.finding.category, inv.finding.rule


TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/opt/ml/code/train.py", line 88, in <module>',
    "    main(args)",
    "ValueError: num_train_epochs must be a positive integer, got -1",
]


def _job(hp: dict[str, str] | None = None, channels: list[str] | None = None) -> dict:
    params = h.training_params("hp-job", hp=hp)
    if channels is not None:
        params["InputDataConfig"] = [
            {"ChannelName": c, "DataSource": {"S3DataSource": {"S3Uri": f"s3://d/{c}/"}}}
            for c in channels
        ]
    return sm.job_facts(params, "training")


def test_hyperparameter_names_leave_out_sagemakers_own_entries() -> None:
    f = _job(hp={"num_train_epochs": "-1", "sagemaker_program": "train.py", "lr": "1e-4"})
    assert f["sagemaker.hyperparameter_names"] == ["lr", "num_train_epochs"]


def test_exception_naming_a_given_hyperparameter_is_hyperparameters() -> None:
    facts = _job(hp={"num_train_epochs": "-1", "sagemaker_program": "train.py"})
    assert _investigate(TRACEBACK, facts) == ("hyperparameters", "hyperparameters-named-in-exception")


def test_same_exception_without_that_hyperparameter_is_not() -> None:
    facts = _job(hp={"epochs": "3", "sagemaker_program": "train.py"})
    rule = _investigate(TRACEBACK, facts)[1]
    assert rule != "hyperparameters-named-in-exception"
    # and a log alone cannot tell either
    assert _investigate(TRACEBACK, {})[1] != "hyperparameters-named-in-exception"


def test_dashed_hyperparameter_matches_argparse_underscored_name() -> None:
    facts = _job(hp={"batch-size": "50"})
    lines = ["AssertionError: batch_size (50) must be divisible by the number of GPUs (4)"]
    assert _investigate(lines, facts)[0] == "hyperparameters"


READ_VALIDATION = [
    "pandas.errors.EmptyDataError: No columns to parse from file /opt/ml/input/data/validation/v.csv"
]


def test_channel_the_job_did_not_declare_is_paths() -> None:
    facts = _job(channels=["train"])
    assert _investigate(READ_VALIDATION, facts) == ("paths", "paths-undeclared-channel")


def test_job_that_declares_no_channel_at_all() -> None:
    facts = _job(channels=[])
    assert "sagemaker.input_channels" not in facts
    lines = ["KeyError: 'SM_CHANNEL_TRAIN'"]
    assert _investigate(lines, facts) == ("paths", "paths-undeclared-channel")


def test_declared_channel_is_not_this_rule() -> None:
    facts = _job(channels=["train", "validation"])
    assert _investigate(READ_VALIDATION, facts)[1] != "paths-undeclared-channel"
