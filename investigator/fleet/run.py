"""`investigate fleet`: pick the engine for SOURCE, read, group, return one FleetView."""

from __future__ import annotations

from datetime import UTC, datetime

from investigator.errors import InputError
from investigator.fleet.view import Filters, FleetView, parse_since


def make_filters(since: str | None, category: str | None, pipeline: str | None,
                 now: datetime | None = None) -> Filters:
    return Filters(since=parse_since(since, now or datetime.now(UTC)), category=category or None,
                   pipeline=pipeline or None)


def local_view(source: str, filters: Filters, *, profile: str | None = None,
               region: str | None = None) -> FleetView:
    """pandas over a folder of reports or the S3 index (s3://bucket[/prefix])."""
    from investigator.fleet.group import group_records, require_pandas
    from investigator.fleet.sources import read_folder, read_s3

    require_pandas()  # before any S3 call: say what to install first
    if source.startswith("s3://"):
        from investigator.aws import CONFIG, make_session

        s3 = make_session(profile, region).client("s3", region_name=region, config=CONFIG)
        loaded = read_s3(s3, source, since=filters.since)
    elif "://" in source:
        raise InputError(f"{source}: SOURCE is a folder of JSON reports or s3://bucket[/prefix]")
    else:
        loaded = read_folder(source)
    groups = group_records(loaded.records, filters)
    return FleetView(source=source, engine="pandas", filters=filters, groups=groups,
                     records=len(loaded.records), skipped=loaded.skipped)


def athena_view(database: str, filters: Filters, *, workgroup: str, profile: str | None = None,
                region: str | None = None) -> FleetView:
    """fleet.sql in Athena over the Glue table the SAM template creates."""
    from investigator.aws import CONFIG, make_session
    from investigator.fleet.athena import run_fleet_query

    if "://" in database or "/" in database:
        raise InputError(f"{database}: with --athena, SOURCE is the Glue database "
                         "(the stack's FleetDatabase output, e.g. investigator_fleet)")
    athena = make_session(profile, region).client("athena", region_name=region, config=CONFIG)
    groups = run_fleet_query(athena, workgroup=workgroup, database=database, filters=filters)
    return FleetView(source=f"athena:{workgroup}/{database}", engine="athena", filters=filters,
                     groups=groups, records=sum(g.count for g in groups))
