"""The fleet view: recurring failures across every investigation.

fingerprint.py  the stable identity of a failure's cause (rule + the facts that identify it)
records.py      one index record per failure: built from an Investigation or a JSON report
store.py        the S3 index (JSON Lines under index/date=YYYY-MM-DD/) and each report's history
sources.py      where records come from: a folder of reports, or s3://bucket/prefix
group.py        pandas grouping by fingerprint (imports pandas lazily)
athena.py       the same grouping in Athena (fleet.sql), through boto3
view.py         the grouped result every renderer takes
render.py       HTML dashboard, JSON, CSV, Markdown, text

Nothing here is imported by `investigate log`; pandas is only needed by group.py.
"""
