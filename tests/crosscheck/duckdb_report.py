#!/usr/bin/env python3
"""The issue-3 user-behaviour report computed by DuckDB, in SQL written
from the definitions alone (an independent engine for the cross-check and
the benchmark peer).

Usage: duckdb_report.py [--threads N] [--session-gap-ms MS] [--funnel a,b,c]
       [--funnel-window-ms MS] [--retention-days N] [--top N] FILE...
Prints the report as JSON (same keys and order as `shoal analyze --json`).
Input: CSV with a header (user_id,ts,event,item; ts integer epoch ms),
JSON Lines or Parquet files with those columns.
"""

import argparse
import datetime
import json
import sys
import time

import duckdb

DAY_MS = 86_400_000


def source_sql(files):
    """A table expression over the input files, by extension."""
    quoted = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    first = files[0]
    if first.endswith(".parquet"):
        return f"read_parquet({quoted})"
    if first.endswith(".jsonl") or first.endswith(".ndjson"):
        return (f"read_json({quoted}, format='newline_delimited', columns="
                "{'user_id':'VARCHAR','ts':'BIGINT','event':'VARCHAR','item':'VARCHAR'})")
    return (f"read_csv({quoted}, header=true, quote='\"', escape='\"', columns="
            "{'user_id':'VARCHAR','ts':'BIGINT','event':'VARCHAR','item':'VARCHAR'})")


def date_of(day):
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=int(day))).isoformat()


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def compute(con, files, gap_ms, steps, window_ms, retention_days, top):
    q = con.execute
    q(f"""CREATE TEMP TABLE ev AS
          SELECT user_id AS u, ts::BIGINT AS ts, event AS e, coalesce(item, '') AS item,
                 CAST(floor(ts / {DAY_MS}) AS INTEGER) AS day
          FROM {source_sql(files)}""")
    events, users = q("SELECT count(*), count(DISTINCT u) FROM ev").fetchone()
    by_type = q("SELECT e, count(*) FROM ev GROUP BY e ORDER BY e").fetchall()

    # Sessions: a new one when the gap to the previous event is strictly
    # greater than the session gap.
    q(f"""CREATE TEMP TABLE sess AS
          SELECT u, min(ts) AS start, max(ts) - min(ts) AS dur, count(*) AS n
          FROM (SELECT u, ts, sum(brk) OVER (PARTITION BY u ORDER BY ts
                                             ROWS UNBOUNDED PRECEDING) AS sid
                FROM (SELECT u, ts,
                             CASE WHEN ts - lag(ts) OVER (PARTITION BY u ORDER BY ts) <= {gap_ms}
                                  THEN 0 ELSE 1 END AS brk
                      FROM ev))
          GROUP BY u, sid""")
    count, dur_sum, n_sum, bounces = q(
        "SELECT count(*), coalesce(sum(dur), 0), coalesce(sum(n), 0), "
        "coalesce(sum(CASE WHEN n = 1 THEN 1 ELSE 0 END), 0) FROM sess").fetchone()
    median = 0
    if count:
        median = q(f"SELECT dur FROM sess ORDER BY dur LIMIT 1 OFFSET {(count - 1) // 2}").fetchone()[0]

    # Per date: events, distinct active users, new users (first event that
    # date), sessions whose first event is on that date.
    q("CREATE TEMP TABLE first AS SELECT u, min(day) AS cohort FROM ev GROUP BY u")
    daily = q(f"""
        WITH d AS (SELECT day, count(*) AS events, count(DISTINCT u) AS active FROM ev GROUP BY day),
             n AS (SELECT cohort AS day, count(*) AS new_users FROM first GROUP BY cohort),
             s AS (SELECT CAST(floor(start / {DAY_MS}) AS INTEGER) AS day, count(*) AS sessions
                   FROM sess GROUP BY 1)
        SELECT d.day, d.events, d.active, coalesce(n.new_users, 0), coalesce(s.sessions, 0)
        FROM d LEFT JOIN n USING (day) LEFT JOIN s USING (day) ORDER BY d.day""").fetchall()

    retention_rows = q(f"""
        SELECT f.cohort, ud.day - f.cohort AS d, count(*)
        FROM (SELECT DISTINCT u, day FROM ev) ud JOIN first f USING (u)
        WHERE ud.day - f.cohort BETWEEN 0 AND {retention_days}
        GROUP BY 1, 2 ORDER BY 1, 2""").fetchall()
    retention = {}
    for cohort, d, n in retention_rows:
        retention.setdefault(cohort, [0] * (retention_days + 1))[d] = n

    # Funnel, windowFunnel(window, 'strict_increase'): chains of step1..stepi
    # at strictly increasing times, last - first <= window. L_i holds, for
    # each step-i event, the latest start of such a chain ending there; the
    # latest start among chains ending strictly earlier is the best one to
    # extend (RANGE ... 1 PRECEDING on integer ms = strictly earlier).
    funnel_users = []
    q(f"CREATE TEMP TABLE l1 AS SELECT u, ts AS t, ts AS f FROM ev WHERE e = {sql_str(steps[0])}")
    funnel_users.append(q("SELECT count(DISTINCT u) FROM l1").fetchone()[0])
    for i in range(2, len(steps) + 1):
        q(f"""CREATE TEMP TABLE l{i} AS
              SELECT u, t, f FROM (
                SELECT u, t, kind,
                       max(f) OVER (PARTITION BY u ORDER BY t
                                    RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS f
                FROM (SELECT u, t, f, 0 AS kind FROM l{i - 1}
                      UNION ALL
                      SELECT u, ts AS t, NULL::BIGINT AS f, 1 AS kind FROM ev
                      WHERE e = {sql_str(steps[i - 1])}))
              WHERE kind = 1 AND f IS NOT NULL AND t - f <= {window_ms}""")
        funnel_users.append(q(f"SELECT count(DISTINCT u) FROM l{i}").fetchone()[0])

    top_items = q(f"""SELECT item, count(*) AS events, count(DISTINCT u) AS users
                      FROM ev WHERE item <> '' GROUP BY item
                      ORDER BY events DESC, item ASC LIMIT {top}""").fetchall()

    def seconds(ms):
        return ms // 1000 if ms % 1000 == 0 else ms / 1000.0

    return {
        "events": events,
        "rejected": 0,
        "users": users,
        "events_by_type": {e: n for e, n in by_type},
        "daily": [{"date": date_of(day), "events": ev_n, "active_users": a, "new_users": nu,
                   "sessions": s} for day, ev_n, a, nu, s in daily],
        "sessions": {
            "count": count,
            "mean_duration_s": (dur_sum / count / 1000.0) if count else 0.0,
            "median_duration_s": median / 1000.0,
            "mean_events": (n_sum / count) if count else 0.0,
            "bounce_rate": (bounces / count) if count else 0.0,
        },
        "funnel": {"steps": steps, "window_s": seconds(window_ms), "users": funnel_users},
        "retention": [{"cohort": date_of(c), "size": a[0], "active": a}
                      for c, a in sorted(retention.items())],
        "top_items": [{"item": i, "events": e, "users": u} for i, e, u in top_items],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 8GB")
    ap.add_argument("--session-gap-ms", type=int, default=30 * 60 * 1000)
    ap.add_argument("--funnel", default="view,cart,purchase")
    ap.add_argument("--funnel-window-ms", type=int, default=24 * 3600 * 1000)
    ap.add_argument("--retention-days", type=int, default=7)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--time", action="store_true", help="print the wall time to stderr")
    args = ap.parse_args()
    start = time.monotonic()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    report = compute(con, sorted(args.files), args.session_gap_ms, args.funnel.split(","),
                     args.funnel_window_ms, args.retention_days, args.top)
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if args.time:
        print(f"duckdb wall {time.monotonic() - start:.3f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
