"""Redaction, rule by rule: every secret shape redact.py knows, each with a realistic
secret that must disappear and a near-miss that must survive (so no rule can be deleted
or widened unnoticed). Values are fake but shaped like the real thing."""

from __future__ import annotations

import pytest

from investigator.models import Evidence, Target, to_json
from investigator.redact import (
    _RULES,
    MASK,
    is_secret_name,
    redact_model,
    redact_text,
    redact_value,
)

# (rule, text holding a secret, the secret itself): one realistic line per shape.
SECRETS = [
    ("quoted secret name", 'HUGGING_FACE_HUB_TOKEN="hf tok with spaces 1234"', "hf tok with spaces 1234"),
    ("quoted pass", "smtp pass: 'correct horse battery staple'", "correct horse battery staple"),
    ("secret name=value", "WANDB_API_KEY=3f9a6c1e2b7d4a5f8c0e1d2b3a4f5e6d7c8b9a00", "3f9a6c1e2b7d4a5f8c0e1d2b3a4f5e6d"),
    ("secret name plain", "CLIENT_SECRET=s3cr3tPlainValue", "s3cr3tPlainValue"),
    ("secret name lower case", "api_key=plainlowercase99", "plainlowercase99"),
    ("json secret", '{"db_password": "Sup3rS3cret!"}', "Sup3rS3cret!"),
    ("pass=", "mysql -u root pass=toor123 --host db", "toor123"),
    ("pwd=", "Server=db;Uid=sa;pwd=Passw0rd1;", "Passw0rd1"),
    ("bearer", "curl -H 'Authorization: Bearer abc.DEF-ghi_jkl~mno+pqr/stu='", "abc.DEF-ghi_jkl~mno+pqr/stu"),
    ("basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
    ("token header", "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "9944b09199c62bcf9418ad846dd0e4bb"),
    ("AKIA", "using key AKIAIOSFODNN7EXAMPLE for s3", "AKIAIOSFODNN7EXAMPLE"),
    ("ASIA (temporary STS)", "aws_session ASIAY34FZKBOKMUTVV7A expired", "ASIAY34FZKBOKMUTVV7A"),
    ("hf_", "login with hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345 ok", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ("ghp_", "git clone https://ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("github_pat_", "token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ in use", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"),
    ("xox", "slack hook xoxb-123456789012-1234567890123-AbCdEfGhIjKl failed", "xoxb-123456789012-1234567890123-AbCdEfGhIjKl"),
    ("sk-", "openai sk-proj-Abc123Def456Ghi789Jkl012Mno rejected", "sk-proj-Abc123Def456Ghi789Jkl012Mno"),
    ("jwt", "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U set", "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
    ("url credentials", "pip install --index-url https://deploy:Zx9PqR2s@pypi.internal.example/simple torch", "Zx9PqR2s"),
    ("pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"),
]

# Text that looks close to a secret but is not one, and must reach the report intact.
NEAR_MISSES = [
    "TOKENIZERS_PARALLELISM=false",
    "huggingface/tokenizers: The current process just got forked, after parallelism has already been used. Disabling parallelism to avoid deadlocks...",
    "To disable this warning, you can either: - Avoid using `tokenizers` before the fork if possible - Explicitly set the environment variable TOKENIZERS_PARALLELISM=(true | false)",
    "generate(max_new_tokens=256, pad_token_id=50256, eos_token_id=2)",
    "Setting `pad_token_id` to `eos_token_id`:2 for open-end generation.",
    "tokenizer.pad_token = tokenizer.eos_token",
    "num_tokens: 4096",
    "SECRETS_MANAGER_ARN=arn:aws:secretsmanager:us-west-2:123456789012:secret:prod",
    "passes: 3",
    "keypass=abc",
    "bearer of bad news",
    "AKIA is a prefix only when 16 more upper-case characters follow: AKIASHORT",
    "hf_hub_download(repo_id='gpt2')",
    "task-sk-1 finished",
    "https://github.com/huggingface/transformers/issues/123",
    "s3://bucket/user:name@2024/data.csv",
    "-----BEGIN CERTIFICATE-----",
]


def test_every_rule_has_a_secret_case():
    # One realistic secret per entry of _RULES (a new rule needs a new case here).
    assert len(SECRETS) >= len(_RULES)


@pytest.mark.parametrize(("shape", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_secret_shape_is_masked(shape, text, secret):
    out = redact_text(text)
    # No piece of the secret survives: a value with spaces is masked whole.
    leaked = [word for word in secret.split() if word in out]
    assert not leaked, f"{shape}: {out!r}"
    assert MASK in out


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_miss_survives(text):
    assert redact_text(text) == text


@pytest.mark.parametrize("name", ["HF_TOKEN", "hf_token", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD",
                                  "api_key", "apikey", "password", "pwd", "GITHUB_TOKEN_FILE", "credentials"])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "max_new_tokens", "pad_token", "eos_token_id",
                                  "num_train_epochs", "learning_rate", "SECRETS_MANAGER_ARN", "token_type_ids"])
def test_not_secret_names(name):
    assert not is_secret_name(name)


def test_hyperparameters_keep_tokenizer_settings_and_lose_secrets():
    hp = {"max_new_tokens": "256", "pad_token": "<pad>", "HF_TOKEN": "whatever-value",
          "nested": {"wandb_api_key": "abc123", "lr": "3e-4"}, "args": ["--password", "x", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"]}
    out = redact_value(hp)
    assert out["max_new_tokens"] == "256" and out["pad_token"] == "<pad>"
    assert out["HF_TOKEN"] == MASK and out["nested"] == {"wandb_api_key": MASK, "lr": "3e-4"}
    assert out["args"][2] == MASK


def test_model_is_redacted_everywhere():
    evidence = Evidence(target=Target(kind="log", name="HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345"))
    out = redact_model(evidence)
    assert "hf_AbCdEf" not in to_json(out)


def test_an_empty_secret_stays_visibly_empty():
    # "the token was not set" is a diagnosis; masking it would hide that.
    assert redact_value({"HF_TOKEN": "", "WANDB_API_KEY": None}) == {"HF_TOKEN": "", "WANDB_API_KEY": None}
    assert redact_value({"HF_TOKEN": "x"}) == {"HF_TOKEN": MASK}


def test_a_secrets_manager_arn_keeps_its_name_but_a_secret_value_does_not():
    arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:prod-db"
    assert redact_text(f"AccessDenied on {arn}") == f"AccessDenied on {arn}"
    assert redact_text(arn) == arn
    assert "prod-db" not in redact_text("SECRET: prod-db")
    assert "hunter2" not in redact_text("ERROR:secret=hunter2")
