"""`investigate`: a thin click layer. Parse, call the library, write output, map errors."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from investigator import __version__
from investigator.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_PLAYBOOK, InvestigatorError
from investigator.taxonomy import CATEGORIES

if TYPE_CHECKING:  # the models load with the command that needs them
    from investigator.models import Evidence, Investigation

_EXT_FORMATS = {".html": "html", ".htm": "html", ".json": "json", ".md": "md", ".txt": "text"}
_FLEET_FORMATS = {**_EXT_FORMATS, ".csv": "csv"}


def _fail(message: str, code: int) -> None:
    click.echo(f"investigate: error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """One clear line and a meaningful exit code instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from investigator.classifier.loader import PlaybookError

        try:
            return fn(*args, **kwargs)
        except InvestigatorError as exc:
            _fail(str(exc), exc.exit_code)
        except PlaybookError as exc:
            _fail(f"invalid playbook: {exc}", EXIT_PLAYBOOK)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except BrokenPipeError:
            sys.exit(0)
        except Exception as exc:  # last resort: never a traceback unless asked for
            if os.environ.get("INVESTIGATOR_DEBUG"):
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL)

    return wrapper


def _pick_format(fmt: str | None, output: str | None,
                 formats: dict[str, str] = _EXT_FORMATS) -> str:
    if fmt:
        return fmt
    if output:
        suffix = Path(output).suffix.lower()
        if suffix not in formats:
            known = ", ".join(sorted(formats))
            _fail(f"cannot tell the format of {output!r} from its suffix {suffix or '(none)'!r}: "
                  f"use one of {known}, or pass --format", EXIT_INPUT)
        return formats[suffix]
    return "text" if sys.stdout.isatty() else "json"


def _emit(text: str, output: str | None, fmt: str) -> None:
    if output:
        from investigator.outputs import write_atomic

        write_atomic(output, text)
        click.echo(f"{fmt} report written to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _color(output: str | None) -> bool:
    return output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _width(output: str | None) -> int:
    """Text wraps to the terminal it is shown in; files and pipes get 100 columns."""
    if output is None and sys.stdout.isatty():
        return shutil.get_terminal_size((100, 24)).columns
    return 100


def _set_runbook_url(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:  # read by reporter.view for every format
        from investigator.reporter.view import RUNBOOK_ENV

        os.environ[RUNBOOK_ENV] = value


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text", "md", "html"]),
    default=None,
    help="Output format (default: text in a terminal, json otherwise, or from --output's suffix).",
)
output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to FILE (atomically) instead of stdout.",
)
repro_option = click.option(
    "--repro",
    "repro_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write a repro kit (repro.sh, repro_local.py, config files) into DIR.",
)
runbook_option = click.option(
    "--runbook-url",
    default=None,
    expose_value=False,
    callback=_set_runbook_url,
    help="Base of the runbook pages each finding links to (default: docs/runbook; "
    "env INVESTIGATOR_RUNBOOK_URL).",
)
sample_option = click.option(
    "--sample",
    type=click.IntRange(0, 10_000),
    default=5,
    show_default=True,
    help="Objects per S3 input channel that repro.sh downloads.",
)


class _OneLineErrors(click.Group):
    """Usage errors as one line (`investigate: error: ...`, exit 2), like every other error."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            _fail(exc.format_message().replace("\n", " ") + where, EXIT_INPUT)
        except click.ClickException as exc:
            _fail(exc.format_message().replace("\n", " "), exc.exit_code)
        except click.exceptions.Abort:
            _fail("interrupted", 130)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="investigate")
def main() -> None:
    """Why did this training job fail, and how do I reproduce it?"""


@main.command("log")
@click.argument("paths", nargs=-1, required=True)
@format_option
@output_option
@repro_option
@runbook_option
@handle_errors
def log_cmd(
    paths: tuple[str, ...], fmt: str | None, output: str | None, repro_dir: str | None
) -> None:
    """Classify saved log files offline (`-` reads stdin, `.gz` is read transparently)."""
    from investigator.classifier import default_library
    from investigator.logfiles import investigate_log
    from investigator.reporter import render_many

    fmt = _pick_format(fmt, output)  # a bad --output suffix fails before any work
    library = default_library()
    invs = [investigate_log(p, library) for p in paths]
    text = render_many(invs, fmt, color=_color(output), width=_width(output))
    _emit(text, output, fmt)
    if repro_dir:
        _write_repro(None, invs[-1], repro_dir, sample=0)


def _write_repro(evidence: Evidence | None, inv: Investigation, out: str, sample: int) -> None:
    from investigator.reporter.repro import write_repro_kit

    path = write_repro_kit(inv, out, evidence=evidence, sample=sample)
    click.echo(f"repro kit written to {path}", err=True)


def _aws_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("--profile", default=None, help="AWS named profile (as the AWS CLI)."),
        click.option("--region", default=None, help="AWS region (as the AWS CLI)."),
        click.option(
            "--save-bundle",
            type=click.Path(dir_okay=False),
            default=None,
            help="Save the collected evidence bundle (JSON) to FILE.",
        ),
        click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr."),
        format_option,
        output_option,
        repro_option,
        runbook_option,
        sample_option,
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _progress(quiet: bool) -> Callable[[str], None] | None:
    if quiet or not sys.stderr.isatty():
        return None
    return lambda line: click.echo(line, err=True)


def _finish(evidence: Evidence, inv: Investigation, opts: dict[str, Any]) -> None:
    from investigator.reporter import render

    if opts.get("save_bundle"):
        from investigator.bundle import save_bundle

        save_bundle(evidence, opts["save_bundle"])
    output = opts.get("output")
    fmt = _pick_format(opts.get("fmt"), output)
    href = None
    if opts.get("repro_dir"):  # written first so the report can link to it
        _write_repro(evidence, inv, opts["repro_dir"], sample=opts.get("sample", 5))
        if output:
            href = os.path.relpath(Path(opts["repro_dir"]) / "repro.sh", Path(output).parent)
    text = render(inv, fmt, color=_color(output), repro_href=href, width=_width(output))
    _emit(text, output, fmt)


@main.command("execution")
@click.argument("arn")
@_aws_options
@handle_errors
def execution_cmd(arn: str, **opts: Any) -> None:
    """Investigate a Step Functions execution by ARN."""
    _pick_format(opts.get("fmt"), opts.get("output"))  # a bad --output fails before AWS calls
    from investigator.models import Target
    from investigator.pipeline import investigate_target

    target = Target(kind="execution", name=arn, region=opts.get("region"))
    evidence, inv = investigate_target(
        target,
        profile=opts.get("profile"),
        region=opts.get("region"),
        progress=_progress(opts.get("quiet", False)),
    )
    _finish(evidence, inv, opts)


@main.command("job")
@click.argument("name")
@click.option(
    "--kind", type=click.Choice(["training", "processing"]), default="training", show_default=True
)
@_aws_options
@handle_errors
def job_cmd(name: str, kind: str, **opts: Any) -> None:
    """Investigate a SageMaker training or processing job by name."""
    _pick_format(opts.get("fmt"), opts.get("output"))
    from investigator.models import Target
    from investigator.pipeline import investigate_target

    target = Target(kind="job", name=name, job_kind=kind, region=opts.get("region"))  # type: ignore[arg-type]
    evidence, inv = investigate_target(
        target,
        profile=opts.get("profile"),
        region=opts.get("region"),
        progress=_progress(opts.get("quiet", False)),
    )
    _finish(evidence, inv, opts)


@main.command("bundle")
@click.argument("path", type=click.Path(dir_okay=False))
@format_option
@output_option
@repro_option
@runbook_option
@sample_option
@handle_errors
def bundle_cmd(path: str, **opts: Any) -> None:
    """Re-classify a saved evidence bundle offline (no AWS calls)."""
    _pick_format(opts.get("fmt"), opts.get("output"))
    from investigator.bundle import investigate_bundle

    evidence, inv = investigate_bundle(path)
    _finish(evidence, inv, opts)


@main.command("runbook")
@click.option(
    "--output",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False),
    default="runbook",
    show_default=True,
    help="Folder to write the runbook into.",
)
@handle_errors
def runbook_cmd(out_dir: str) -> None:
    """Render every playbook into a browsable on-call runbook (HTML index + Markdown pages)."""
    from investigator.classifier.loader import load_rules
    from investigator.reporter.runbook import write_runbook

    index = write_runbook(load_rules(), Path(out_dir))
    click.echo(f"runbook written to {index}", err=True)


@main.command("fleet")
@click.argument("source")
@click.option("--since", default=None,
              help="Only failures since: 7d, 12h, 2w or a date (2025-06-01).")
@click.option("--category", type=click.Choice(list(CATEGORIES)), default=None,
              help="Only this root-cause category.")
@click.option("--pipeline", default=None, help="Only this state machine (its name).")
@click.option("--athena", "workgroup", default=None, metavar="WORKGROUP",
              help="Group in Athena (SOURCE is then the Glue database, e.g. investigator_fleet).")
@click.option("--profile", default=None, help="AWS named profile (as the AWS CLI).")
@click.option("--region", default=None, help="AWS region (as the AWS CLI).")
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv", "md", "text"]),
              default=None, help="Output format (default: text in a terminal, json otherwise, "
              "or from --output's suffix).")
@output_option
@handle_errors
def fleet_cmd(source: str, since: str | None, category: str | None, pipeline: str | None,
              workgroup: str | None, profile: str | None, region: str | None, fmt: str | None,
              output: str | None) -> None:
    """Recurring failures across reports: a folder of JSON reports or s3://bucket[/prefix]."""
    from investigator.fleet.render import render
    from investigator.fleet.run import athena_view, local_view, make_filters

    fmt = _pick_format(fmt, output, _FLEET_FORMATS)  # a bad --output suffix fails before any work
    filters = make_filters(since, category, pipeline)
    if workgroup:
        view = athena_view(source, filters, workgroup=workgroup, profile=profile, region=region)
    else:
        view = local_view(source, filters, profile=profile, region=region)
    _emit(render(view, fmt, output), output, fmt)


if __name__ == "__main__":  # pragma: no cover
    main()
