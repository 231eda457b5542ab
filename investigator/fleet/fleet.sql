-- investigate fleet: failures grouped by fingerprint.
-- One query for Athena (engine v3, Trino) and DuckDB alike; tests/fleet/test_sql.py runs it
-- in DuckDB over the same JSON Lines the pandas path groups and checks both agree.
-- Table fleet_index: the index records (investigator/fleet/records.py), partitioned by
-- "date" (infra/template.yaml, partition projection). failed_at is YYYY-MM-DDTHH:MM:SSZ,
-- so string order is time order.
-- Parameters, in order: since day (YYYY-MM-DD), since time, category ('' = all), category,
-- pipeline ('' = all), pipeline.
WITH failures AS (
  SELECT fingerprint, category, rule, title, retryable, target, pipeline, job, report,
         failed_at,
         substr(failed_at, 1, 10) AS day,
         failed_at || '|' || coalesce(report, '') || '|' || target AS latest_key
  FROM fleet_index
  WHERE "date" >= ?
    AND fingerprint IS NOT NULL  -- a malformed line (the SerDe ignores it) has no fingerprint
    AND failed_at >= ?
    AND (? = '' OR category = ?)
    AND (? = '' OR pipeline = ?)
),
per_day AS (
  SELECT fingerprint, day, count(*) AS n
  FROM failures
  GROUP BY fingerprint, day
),
trend AS (
  SELECT fingerprint, array_agg(day || '=' || CAST(n AS varchar) ORDER BY day) AS per_day
  FROM per_day
  GROUP BY fingerprint
),
grouped AS (
  SELECT fingerprint,
         max_by(category, latest_key) AS category,
         max_by(rule, latest_key) AS rule,
         max_by(title, latest_key) AS title,
         count(*) AS failures,
         min(failed_at) AS first_seen,
         max(failed_at) AS last_seen,
         array_sort(array_agg(DISTINCT target)) AS targets,
         array_sort(array_agg(DISTINCT pipeline) FILTER (WHERE pipeline IS NOT NULL)) AS pipelines,
         array_sort(array_agg(DISTINCT job) FILTER (WHERE job IS NOT NULL)) AS jobs,
         avg(CASE WHEN retryable THEN 1.0E0 ELSE 0.0E0 END) AS retryable_share,
         -- coalesce: Trino's max_by returns a NULL x, DuckDB's skips it
         nullif(max_by(coalesce(report, ''), latest_key), '') AS latest_report,
         max_by(target, latest_key) AS latest_target
  FROM failures
  GROUP BY fingerprint
)
SELECT g.fingerprint, g.category, g.rule, g.title, g.failures, g.first_seen, g.last_seen,
       g.targets, g.pipelines, g.jobs, g.retryable_share, g.latest_report, g.latest_target,
       t.per_day
FROM grouped g
JOIN trend t ON g.fingerprint = t.fingerprint
ORDER BY g.failures DESC, g.last_seen DESC, g.fingerprint
