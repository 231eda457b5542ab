"""ECR collector: image found or gone, push time vs job start, tag moves, platform and config."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from investigator.aws import open_context
from investigator.collectors import Collected, ecr
from tests.collectors import helpers as h

URI = f"{h.ACCOUNT}.dkr.ecr.{h.REGION}.amazonaws.com/trainer"
CONFIG = {
    "architecture": "arm64",
    "os": "linux",
    "created": "2025-02-27T10:00:00Z",
    "config": {"Entrypoint": ["python3", "/opt/program/train.py"], "Cmd": None,
               "Env": ["PATH=/usr/bin", "HF_TOKEN=hf_secretsecretsecretsecret1"],
               "Labels": {"git_sha": "abc123"}},
}


def _collect(session: boto3.Session, uri: str | None, start: Any = h.T0) -> Collected:
    ctx = open_context(profile=None, region=h.REGION, deadline=None, session=session)
    return ecr.collect_image(ctx, uri, start)


class _Http:
    status_code = 200


def _stub_download_url(session: boto3.Session, url: str = "https://layers.example/cfg") -> None:
    """moto gap: GetDownloadUrlForLayer is not implemented; answer it like AWS does."""

    def handler(model: Any = None, **_: Any) -> Any:
        if getattr(model, "name", None) == "GetDownloadUrlForLayer":
            return _Http(), {"downloadUrl": url, "layerDigest": "sha256:" + "c" * 64,
                             "ResponseMetadata": {"HTTPStatusCode": 200}}
        return None

    session.events.register("before-call", handler)


def test_single_manifest_with_config(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = h.ecr_image(aws, pushed=h.T0 - timedelta(days=2))
    _stub_download_url(aws)
    fetched: list[str] = []

    def fake_fetch(url: str) -> bytes:
        fetched.append(url)
        return json.dumps(CONFIG).encode()

    monkeypatch.setattr(ecr, "fetch_blob", fake_fetch)
    c = _collect(aws, f"{URI}:latest")
    f = c.facts
    assert fetched == ["https://layers.example/cfg"]
    assert f["ecr.image_found"] is True
    assert f["ecr.image_digest"] == digest
    assert f["ecr.image_tags"] == ["latest"]
    assert f["ecr.pushed_after_job_start"] is False
    assert "ecr.tag_moved" not in f  # unknown: nothing says the tag moved
    assert f["ecr.image_architecture"] == "arm64"
    assert f["ecr.image_entrypoint"] == ["python3", "/opt/program/train.py"]
    assert f["ecr.image_env_names"] == ["PATH", "HF_TOKEN"]  # names only, never values
    assert "hf_secret" not in repr(f)
    assert f["ecr.image_labels"] == {"git_sha": "abc123"}
    assert c.gaps == []


def test_config_unreadable_is_a_gap(aws: boto3.Session) -> None:
    """Against plain moto GetDownloadUrlForLayer fails: a gap, the other facts stay."""
    h.ecr_image(aws)
    c = _collect(aws, f"{URI}:latest")
    assert c.facts["ecr.image_found"] is True
    assert [g.code for g in c.gaps] == ["ConfigUnavailable"]


def test_manifest_list_gives_platforms(aws: boto3.Session) -> None:
    h.ecr_image(aws, tag="multi", platforms=["linux/amd64", "linux/arm64", "unknown/unknown"])
    h.ecr_image(aws, tag="armonly", platforms=["linux/arm64"], layer="b")
    multi = _collect(aws, f"{URI}:multi").facts
    assert multi["ecr.image_platforms"] == ["linux/amd64", "linux/arm64"]
    assert "ecr.image_architecture" not in multi  # docker picks the host's platform
    arm = _collect(aws, f"{URI}:armonly").facts
    assert arm["ecr.image_architecture"] == "arm64"


def test_deleted_image_is_a_fact_and_a_gap(aws: boto3.Session) -> None:
    h.ecr_image(aws, tag="v1")
    c = _collect(aws, f"{URI}:v2")
    assert c.facts["ecr.image_found"] is False
    assert [(g.source, g.code) for g in c.gaps] == [("ecr", "ImageNotFound")]


def test_missing_repository(aws: boto3.Session) -> None:
    c = _collect(aws, f"{h.ACCOUNT}.dkr.ecr.{h.REGION}.amazonaws.com/nope:latest")
    assert c.facts["ecr.image_found"] is False
    assert c.gaps[0].code == "RepositoryNotFound"


def test_pushed_after_job_start_means_the_tag_moved(aws: boto3.Session) -> None:
    h.ecr_image(aws, pushed=h.T0 + timedelta(hours=1))
    f = _collect(aws, f"{URI}:latest").facts
    assert f["ecr.pushed_after_job_start"] is True
    assert f["ecr.tag_moved"] is True


def test_pinned_digest_and_moved_tag(aws: boto3.Session) -> None:
    old = h.ecr_image(aws, tag="build-41", layer="a")
    aws.client("ecr", region_name=h.REGION).put_image(
        repositoryName="trainer", imageTag="prod",
        imageManifest=aws.client("ecr", region_name=h.REGION).batch_get_image(
            repositoryName="trainer", imageIds=[{"imageDigest": old}])["images"][0]["imageManifest"])
    # moto gap: moving a tag deletes an image that had only that tag (ECR leaves it untagged),
    # so the old image also carries "build-41" and survives the move.
    h.ecr_image(aws, tag="prod", layer="b")  # the tag now names another image
    f = _collect(aws, f"{URI}:prod@{old}").facts
    assert f["ecr.image_digest"] == old
    assert f["ecr.tag_moved"] is True


def test_not_an_ecr_image(aws: boto3.Session) -> None:
    c = _collect(aws, "docker.io/pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime")
    assert c.facts == {}
    assert [(g.source, g.code) for g in c.gaps] == [("ecr", "NotAnEcrImage")]


def test_access_denied_names_the_action(aws: boto3.Session) -> None:
    h.ecr_image(aws)
    h.deny(aws, "DescribeImages")
    c = _collect(aws, f"{URI}:latest")
    assert [(g.code, g.missing_permission) for g in c.gaps] == [
        ("AccessDenied", "ecr:DescribeImages")]


def test_manifest_denied_keeps_describe_facts(aws: boto3.Session) -> None:
    h.ecr_image(aws)
    h.deny(aws, "BatchGetImage")
    c = _collect(aws, f"{URI}:latest")
    assert c.facts["ecr.image_found"] is True
    assert c.gaps[0].missing_permission == "ecr:BatchGetImage"


@pytest.mark.parametrize(
    "uri,expected",
    [
        (f"{URI}:v1", ("trainer", "v1", None)),
        (f"{URI}", ("trainer", "latest", None)),
        (f"{URI}@sha256:{'a' * 64}", ("trainer", None, "sha256:" + "a" * 64)),
        (f"{h.ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/team/ml/train:2.1",
         ("team/ml/train", "2.1", None)),
    ],
)
def test_parse_image_uri(uri: str, expected: tuple) -> None:
    ref = ecr.parse_image_uri(uri)
    assert ref is not None and (ref.repository, ref.tag, ref.digest) == expected


# --- the bounded config fetch ----------------------------------------------------------------


@pytest.fixture
def local_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"{" + b" " * (ecr.CONFIG_MAX_BYTES + 10) + b"}"
            if self.path == "/small":
                body = json.dumps(CONFIG).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_is_bounded(local_server: str) -> None:
    assert json.loads(ecr.fetch_blob(f"{local_server}/small"))["architecture"] == "arm64"
    with pytest.raises(ValueError, match="larger than"):
        ecr.fetch_blob(f"{local_server}/huge")


def test_fetch_refuses_plain_http_to_remote_hosts() -> None:
    with pytest.raises(ValueError, match="refusing"):
        ecr.fetch_blob("http://layers.example.com/blob")


def test_archived_image_is_found_with_image_status_any_and_reported_archived() -> None:
    """Item 9 of issue 11. botocore's ecr model (DescribeImagesFilter.imageStatus): "If not
    specified, only images with ACTIVE status are returned"; ImageStatusFilter allows ANY.
    "Archived images cannot be pulled ... it can still be described ... The image status will
    be shown as ARCHIVED" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html).
    """
    from tests.collectors.stubbed import stubbed

    ident = {"repositoryName": "trainer", "registryId": h.ACCOUNT,
             "imageIds": [{"imageTag": "v3"}]}
    digest = "sha256:" + "e" * 64
    with stubbed("ecr") as (ctx, stubs):
        stubs["ecr"].add_client_error(
            "describe_images", "ImageNotFoundException",
            "The image with imageId {imageDigest:'null', imageTag:'v3'} does not exist within "
            "the repository with name 'trainer' in the registry with id '123456789012'",
            expected_params=ident)
        stubs["ecr"].add_response("describe_images", {"imageDetails": [{
            "registryId": h.ACCOUNT, "repositoryName": "trainer", "imageDigest": digest,
            "imageTags": ["v3"], "imageSizeInBytes": 9_100_000_000,
            "imagePushedAt": h.T0 - timedelta(days=400), "imageStatus": "ARCHIVED",
            "lastArchivedAt": h.T0 - timedelta(days=10),
            "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json"}]},
            expected_params={**ident, "filter": {"imageStatus": "ANY"}})
        c = ecr.collect_image(ctx, f"{URI}:v3", h.T0)
    assert c.facts["ecr.image_found"] is True
    assert c.facts["ecr.image_status"] == "ARCHIVED"
    assert c.facts["ecr.image_digest"] == digest
    assert c.gaps == []
    assert "ARCHIVED" in c.summary


def test_image_missing_in_every_status_stays_not_found() -> None:
    from tests.collectors.stubbed import stubbed

    with stubbed("ecr") as (ctx, stubs):
        for _ in range(2):
            stubs["ecr"].add_client_error("describe_images", "ImageNotFoundException", "gone")
        c = ecr.collect_image(ctx, f"{URI}:v4", h.T0)
    assert c.facts["ecr.image_found"] is False
    assert [g.code for g in c.gaps] == ["ImageNotFound"]
