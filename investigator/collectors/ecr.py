"""ECR: what the job's image URI points at now, and (where permitted) its platform and config.

DescribeImages gives digest, tags, push time, size and status. BatchGetImage gives the
manifest: a manifest list / OCI index names its platforms directly; a single manifest names
its config blob, fetched through GetDownloadUrlForLayer and one bounded HTTPS GET (a failure
there is a Gap, never an error).

moto gap: GetDownloadUrlForLayer is not implemented by moto, so against moto a single-manifest
image always ends with a "ConfigUnavailable" gap; tests stub that call.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import re2

from investigator.aws import AWS_ERRORS, AwsContext, error_code, gap_from_error
from investigator.collectors import Collected, as_datetime, iso
from investigator.models import Gap
from investigator.redact import redact_value

SOURCE = "ecr"
CONFIG_MAX_BYTES = 1_000_000
CONFIG_TIMEOUT_S = 3.0
MEDIA_TYPES = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
]
_ECR_URI = re2.compile(
    r"^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"([a-z0-9][a-z0-9._/-]{0,255})(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(sha256:[a-f0-9]{64}))?$"
)


@dataclass(frozen=True)
class ImageRef:
    registry: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def image_id(self) -> dict[str, str]:
        return {"imageDigest": self.digest} if self.digest else {"imageTag": self.tag or "latest"}


def parse_image_uri(uri: str) -> ImageRef | None:
    m = _ECR_URI.search(uri.strip())
    if not m:
        return None
    tag = m.group(4) or (None if m.group(5) else "latest")
    return ImageRef(m.group(1), m.group(2), m.group(3), tag, m.group(5))


def collect_image(ctx: AwsContext, uri: str | None, job_start: datetime | None) -> Collected:
    """`job_start`: when the job resolved its tag (the image pull, else its start)."""
    c = Collected()
    if not uri:
        c.summary = "no image"
        return c
    ref = parse_image_uri(uri)
    if ref is None:
        c.gaps.append(Gap(source=SOURCE, code="NotAnEcrImage",
                          message=f"{uri} is not an ECR image; registry metadata not collected"))
        c.summary = "not an ECR image"
        return c
    c.facts["ecr.repository"] = ref.repository
    client = ctx.client("ecr", region=ref.region)
    detail = _describe(client, ref, ref.image_id, c)
    if detail is None:
        return c
    _detail_facts(detail, c, job_start)
    if detail.get("imageStatus") == "ARCHIVED":
        # "Archived images cannot be pulled": the manifest is not served either, and the job
        # failed to pull it (https://docs.aws.amazon.com/AmazonECR/latest/userguide/archive-image.html).
        c.summary = "image ARCHIVED (cannot be pulled)"
        return c
    _tag_moved(client, ref, detail, c)
    if not ctx.out_of_time():
        _manifest(ctx, client, ref, str(detail.get("imageDigest", "")), c)
    arch = c.facts.get("ecr.image_architecture")
    c.summary = f"image {'found' if c.facts.get('ecr.image_found') else 'missing'}" + (
        f", {arch}" if arch else "")
    return c


def _describe(client: Any, ref: ImageRef, image_id: dict[str, str], c: Collected) -> dict | None:
    ident = f":{ref.tag}" if "imageTag" in image_id else f"@{ref.digest}"
    what = ref.repository + ident
    try:
        resp = _describe_any_status(client, ref, image_id)
    except AWS_ERRORS as exc:
        code = error_code(exc)
        if code in {"ImageNotFoundException", "RepositoryNotFoundException"}:
            c.facts["ecr.image_found"] = False
            c.gaps.append(Gap(source=SOURCE, code=code.removesuffix("Exception"),
                              message=f"{what} not found in ECR (deleted, never pushed, "
                                      "or a different registry)"))
            c.summary = "image not found"
        else:
            c.gaps.append(gap_from_error(SOURCE, exc, "ecr:DescribeImages", what))
            c.summary = c.gaps[-1].code
        return None
    details = resp.get("imageDetails") or []
    if not details:
        c.facts["ecr.image_found"] = False
        c.gaps.append(Gap(source=SOURCE, code="ImageNotFound", message=f"{what} not found in ECR"))
        return None
    return details[0]


def _describe_any_status(client: Any, ref: ImageRef, image_id: dict[str, str]) -> dict:
    """DescribeImages, asking again for any status when the image is not found.

    Without a filter only ACTIVE images are returned (botocore ecr model,
    DescribeImagesFilter.imageStatus: "If not specified, only images with ACTIVE status are
    returned"), so an archived image looks deleted until asked for with imageStatus ANY.
    """
    args = {"repositoryName": ref.repository, "registryId": ref.registry, "imageIds": [image_id]}
    try:
        return client.describe_images(**args)
    except AWS_ERRORS as exc:
        if error_code(exc) != "ImageNotFoundException":
            raise
        try:
            return client.describe_images(**args, filter={"imageStatus": "ANY"})
        except AWS_ERRORS:
            raise exc from None  # the first answer stands: not found


def _detail_facts(d: dict[str, Any], c: Collected, job_start: datetime | None) -> None:
    f = c.facts
    f["ecr.image_found"] = True
    f["ecr.image_digest"] = d.get("imageDigest")
    f["ecr.image_tags"] = list(d.get("imageTags") or [])
    f["ecr.image_pushed_at"] = iso(d.get("imagePushedAt"))
    if isinstance(d.get("imageSizeInBytes"), int):
        f["ecr.image_size_bytes"] = d["imageSizeInBytes"]
    if d.get("imageStatus"):
        f["ecr.image_status"] = d["imageStatus"]
    if d.get("imageManifestMediaType"):
        f["ecr.manifest_media_type"] = d["imageManifestMediaType"]
    pushed = as_datetime(d.get("imagePushedAt"))
    if pushed and job_start:
        f["ecr.pushed_after_job_start"] = pushed > job_start
    c.facts = {k: v for k, v in f.items() if v is not None}


def _tag_moved(client: Any, ref: ImageRef, detail: dict[str, Any], c: Collected) -> None:
    """Known only when the URI pinned a digest next to a tag, or the tag was pushed after start."""
    if ref.digest and ref.tag:
        current = _describe(client, ref, {"imageTag": ref.tag}, Collected())
        if current is not None:
            c.facts["ecr.tag_moved"] = current.get("imageDigest") != ref.digest
    elif ref.tag and c.facts.get("ecr.pushed_after_job_start"):
        # The digest the tag names now did not exist when the job started.
        c.facts["ecr.tag_moved"] = True


def _manifest(ctx: AwsContext, client: Any, ref: ImageRef, digest: str, c: Collected) -> None:
    what = f"{ref.repository}@{digest}"
    try:
        resp = client.batch_get_image(repositoryName=ref.repository, registryId=ref.registry,
                                      imageIds=[{"imageDigest": digest}],
                                      acceptedMediaTypes=MEDIA_TYPES)
    except AWS_ERRORS as exc:
        c.gaps.append(gap_from_error(SOURCE, exc, "ecr:BatchGetImage", what))
        return
    images = resp.get("images") or []
    manifest = _json(images[0].get("imageManifest")) if images else None
    if not isinstance(manifest, dict):
        c.gaps.append(Gap(source=SOURCE, code="ManifestUnavailable",
                          message=f"no readable manifest for {what}"))
        return
    if isinstance(manifest.get("manifests"), list):
        _platforms(manifest["manifests"], c)
        return
    config_digest = (manifest.get("config") or {}).get("digest")
    if isinstance(config_digest, str) and not ctx.out_of_time():
        _config(client, ref, config_digest, c)


def _platforms(entries: list[dict[str, Any]], c: Collected) -> None:
    plats = []
    for e in entries:
        p = e.get("platform") or {}
        arch, os_ = p.get("architecture"), p.get("os")
        if not arch or arch == "unknown" or os_ == "unknown":  # buildx attestation manifests
            continue
        plats.append(f"{os_}/{arch}" + (f"/{p['variant']}" if p.get("variant") else ""))
    c.facts["ecr.image_platforms"] = plats
    archs = {p.split("/")[1] for p in plats}
    if len(archs) == 1:
        c.facts["ecr.image_architecture"] = archs.pop()
    oses = {p.split("/")[0] for p in plats}
    if len(oses) == 1:
        c.facts["ecr.image_os"] = oses.pop()


def _config(client: Any, ref: ImageRef, digest: str, c: Collected) -> None:
    what = f"config blob {digest} of {ref.repository}"
    try:
        url = client.get_download_url_for_layer(
            repositoryName=ref.repository, registryId=ref.registry, layerDigest=digest
        ).get("downloadUrl")
        raw = fetch_blob(str(url))
        config = json.loads(raw)
    except AWS_ERRORS as exc:
        c.gaps.append(gap_from_error(SOURCE, exc, "ecr:GetDownloadUrlForLayer", what))
        return
    except (OSError, ValueError, NotImplementedError) as exc:
        # Network, size, JSON or an emulator without the call: the config is optional evidence.
        c.gaps.append(Gap(source=SOURCE, code="ConfigUnavailable",
                          message=f"{what} not read: {type(exc).__name__}: {str(exc)[:200]}"))
        return
    if isinstance(config, dict):
        config_facts(config, c.facts)


def config_facts(config: dict[str, Any], facts: dict[str, Any]) -> None:
    """ecr.image_* facts from an image config JSON (env values are dropped, names kept)."""
    inner = config.get("config") or {}
    if config.get("architecture"):
        facts["ecr.image_architecture"] = config["architecture"]
    if config.get("os"):
        facts["ecr.image_os"] = config["os"]
    if isinstance(inner.get("Entrypoint"), list):
        facts["ecr.image_entrypoint"] = inner["Entrypoint"]
    if isinstance(inner.get("Cmd"), list):
        facts["ecr.image_cmd"] = redact_value(inner["Cmd"])
    env = inner.get("Env")
    if isinstance(env, list):
        facts["ecr.image_env_names"] = [str(e).split("=", 1)[0] for e in env]
    if config.get("created"):
        facts["ecr.image_created"] = iso(config["created"]) or str(config["created"])
    if isinstance(inner.get("Labels"), dict):
        facts["ecr.image_labels"] = redact_value(inner["Labels"])


def fetch_blob(url: str) -> bytes:
    """One bounded GET of a presigned layer URL: HTTPS only (HTTP to a local emulator)."""
    parsed = urlparse(url)
    local = parsed.hostname in {"127.0.0.1", "localhost", "::1"}
    if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
        raise ValueError(f"refusing to fetch a {parsed.scheme or 'schemeless'} URL")
    req = urllib.request.Request(url, headers={"User-Agent": "investigator"})
    with urllib.request.urlopen(req, timeout=CONFIG_TIMEOUT_S) as resp:
        data = resp.read(CONFIG_MAX_BYTES + 1)
    if len(data) > CONFIG_MAX_BYTES:
        raise ValueError(f"image config larger than {CONFIG_MAX_BYTES} bytes")
    return data


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


__all__ = ["ImageRef", "collect_image", "config_facts", "fetch_blob", "parse_image_uri"]
