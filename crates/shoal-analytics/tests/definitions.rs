//! Every definition of issue 3 pinned at its edges, through the same
//! encode → shuffle → per-user → merge path the job uses.

use shoal_analytics::local::RowRef;
use shoal_analytics::{analyze_rows, AnalyzeConfig, Report};

const DAY: i64 = 86_400_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;

fn report(rows: &[RowRef<'_>]) -> Report {
    analyze_rows(rows, &AnalyzeConfig::default(), 4).unwrap()
}

fn report_with(rows: &[RowRef<'_>], config: AnalyzeConfig) -> Report {
    analyze_rows(rows, &config, 3).unwrap()
}

#[test]
fn gap_equal_to_session_gap_continues_the_session() {
    let r = report(&[("u", T0, "view", ""), ("u", T0 + 30 * MIN, "view", "")]);
    assert_eq!(r.sessions.count, 1);
    assert_eq!(r.sessions.mean_duration_s, 1800.0);
    assert_eq!(r.sessions.bounce_rate, 0.0);
    assert_eq!(r.sessions.mean_events, 2.0);
}

#[test]
fn gap_one_millisecond_longer_starts_a_new_session() {
    let r = report(&[("u", T0, "view", ""), ("u", T0 + 30 * MIN + 1, "view", "")]);
    assert_eq!(r.sessions.count, 2);
    assert_eq!(r.sessions.mean_duration_s, 0.0);
    assert_eq!(r.sessions.bounce_rate, 1.0);
}

#[test]
fn custom_session_gap_is_honoured() {
    let config = AnalyzeConfig {
        session_gap_ms: 1000,
        ..Default::default()
    };
    let rows = [
        ("u", T0, "a", ""),
        ("u", T0 + 1000, "a", ""),
        ("u", T0 + 2001, "a", ""),
    ];
    assert_eq!(report_with(&rows, config).sessions.count, 2);
}

#[test]
fn session_durations_mean_and_lower_median() {
    // Sessions of 10 s, 20 s, 30 s, 40 s (each user one session): the lower
    // median of an even count is the 2nd smallest.
    let mut rows = Vec::new();
    let users = ["a", "b", "c", "d"];
    for (i, u) in users.iter().enumerate() {
        rows.push((*u, T0, "view", ""));
        rows.push((*u, T0 + (i as i64 + 1) * 10_000, "view", ""));
    }
    let r = report(&rows);
    assert_eq!(r.sessions.count, 4);
    assert_eq!(r.sessions.median_duration_s, 20.0);
    assert_eq!(r.sessions.mean_duration_s, 25.0);
}

#[test]
fn milliseconds_survive_into_duration_seconds() {
    let r = report(&[("u", T0, "view", ""), ("u", T0 + 1234, "view", "")]);
    assert_eq!(r.sessions.median_duration_s, 1.234);
}

#[test]
fn single_event_users_are_bounces() {
    let r = report(&[
        ("a", T0, "view", ""),
        ("b", T0, "view", ""),
        ("c", T0, "view", ""),
        ("c", T0 + 1, "cart", ""),
    ]);
    assert_eq!(r.sessions.count, 3);
    assert_eq!(r.sessions.bounce_rate, 2.0 / 3.0);
    assert_eq!(r.sessions.median_duration_s, 0.0);
    assert_eq!(r.sessions.mean_events, 4.0 / 3.0);
}

#[test]
fn exact_duplicates_count_as_separate_events() {
    let row = ("u", T0, "view", "i1");
    let r = report(&[row, row, row]);
    assert_eq!(r.events, 3);
    assert_eq!(r.users, 1);
    assert_eq!(r.events_by_type["view"], 3);
    assert_eq!(r.daily[0].events, 3);
    assert_eq!(r.sessions.count, 1);
    assert_eq!(r.sessions.mean_events, 3.0);
    assert_eq!(r.sessions.bounce_rate, 0.0);
    assert_eq!((r.top_items[0].events, r.top_items[0].users), (3, 1));
}

#[test]
fn user_spanning_utc_midnight() {
    // 23:50 and 00:10 next day: one session (20 min gap) counted on the
    // first event's date, the user active on both dates, new on the first,
    // and retained on day 1 of the cohort.
    let rows = [
        ("u", T0 + DAY - 10 * MIN, "view", ""),
        ("u", T0 + DAY + 10 * MIN, "view", ""),
    ];
    let r = report(&rows);
    assert_eq!(r.daily.len(), 2);
    let (d0, d1) = (&r.daily[0], &r.daily[1]);
    assert_eq!(
        (d0.date.as_str(), d1.date.as_str()),
        ("2026-01-01", "2026-01-02")
    );
    assert_eq!(
        (d0.events, d0.active_users, d0.new_users, d0.sessions),
        (1, 1, 1, 1)
    );
    assert_eq!(
        (d1.events, d1.active_users, d1.new_users, d1.sessions),
        (1, 1, 0, 0)
    );
    assert_eq!(r.sessions.count, 1);
    assert_eq!(r.retention.len(), 1);
    assert_eq!(r.retention[0].cohort, "2026-01-01");
    assert_eq!(r.retention[0].size, 1);
    assert_eq!(r.retention[0].active, vec![1, 1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn retention_counts_days_since_cohort_and_ignores_later_days() {
    let config = AnalyzeConfig {
        retention_days: 2,
        ..Default::default()
    };
    let rows = [
        ("a", T0, "view", ""),
        ("a", T0 + 2 * DAY, "view", ""),
        ("a", T0 + 3 * DAY, "view", ""),
        ("b", T0 + 5, "view", ""),
        ("c", T0 + DAY, "view", ""),
        ("c", T0 + DAY + 1, "view", ""),
    ];
    let r = report_with(&rows, config);
    assert_eq!(r.retention.len(), 2);
    assert_eq!(
        (r.retention[0].size, r.retention[0].active.clone()),
        (2, vec![2, 0, 1])
    );
    assert_eq!(
        (r.retention[1].size, r.retention[1].active.clone()),
        (1, vec![1, 0, 0])
    );
    assert_eq!(
        r.daily.iter().map(|d| d.new_users).collect::<Vec<_>>(),
        [2, 1, 0, 0]
    );
    assert_eq!(
        r.daily.iter().map(|d| d.active_users).collect::<Vec<_>>(),
        [2, 1, 1, 1]
    );
}

fn funnel(rows: &[RowRef<'_>], window_ms: u64) -> Vec<u64> {
    let config = AnalyzeConfig {
        funnel_window_ms: window_ms,
        ..Default::default()
    };
    report_with(rows, config).funnel.users
}

#[test]
fn funnel_counts_users_at_least_at_each_step() {
    let rows = [
        ("a", T0, "view", ""),
        ("a", T0 + 1, "cart", ""),
        ("a", T0 + 2, "purchase", ""),
        ("b", T0, "view", ""),
        ("b", T0 + 1, "cart", ""),
        ("c", T0, "view", ""),
        ("d", T0, "cart", ""),
        ("d", T0 + 1, "purchase", ""),
    ];
    assert_eq!(funnel(&rows, 1000), vec![3, 2, 1]);
}

#[test]
fn funnel_equal_timestamps_do_not_advance() {
    let rows = [
        ("a", T0, "view", ""),
        ("a", T0, "cart", ""),
        ("a", T0 + 1, "purchase", ""),
    ];
    assert_eq!(funnel(&rows, 1000), vec![1, 0, 0]);
}

#[test]
fn funnel_window_is_inclusive() {
    let rows = [
        ("a", T0, "view", ""),
        ("a", T0 + 500, "cart", ""),
        ("a", T0 + 1000, "purchase", ""),
    ];
    assert_eq!(funnel(&rows, 1000), vec![1, 1, 1]);
    assert_eq!(funnel(&rows, 999), vec![1, 1, 0]);
}

#[test]
fn funnel_later_start_succeeds_where_earlier_fails() {
    let rows = [
        ("a", T0, "view", ""),
        ("a", T0 + 5000, "view", ""),
        ("a", T0 + 5500, "cart", ""),
        ("a", T0 + 5900, "purchase", ""),
    ];
    assert_eq!(funnel(&rows, 1000), vec![1, 1, 1]);
}

#[test]
fn funnel_default_window_is_24h_and_reported_in_seconds() {
    let r = report(&[]);
    assert_eq!(r.funnel.steps, ["view", "cart", "purchase"]);
    assert_eq!(r.funnel.window_s.to_string(), "86400");
}

#[test]
fn top_items_ties_by_item_byte_order_and_exclude_empty() {
    let config = AnalyzeConfig {
        top: 3,
        ..Default::default()
    };
    let rows = [
        ("a", T0, "view", "b"),
        ("a", T0, "view", "B"),
        ("b", T0, "view", "a"),
        ("b", T0, "view", "c"),
        ("b", T0 + 1, "view", "c"),
        ("b", T0, "view", ""),
        ("b", T0, "view", ""),
        ("b", T0, "view", ""),
    ];
    let r = report_with(&rows, config);
    let top: Vec<(&str, u64, u64)> = r
        .top_items
        .iter()
        .map(|t| (t.item.as_str(), t.events, t.users))
        .collect();
    assert_eq!(top, [("c", 2, 1), ("B", 1, 1), ("a", 1, 1)]);
}

#[test]
fn unicode_names_are_kept_and_sorted_by_bytes() {
    let rows = [
        ("ü", T0, "ansehen", "Käse,\"alt\""),
        ("ü", T0, "Ansehen", "Käse,\"alt\""),
    ];
    let r = report(&rows);
    assert_eq!(
        r.events_by_type.keys().collect::<Vec<_>>(),
        ["Ansehen", "ansehen"]
    );
    assert_eq!(r.top_items[0].item, "Käse,\"alt\"");
    assert_eq!(r.users, 1);
}

#[test]
fn empty_input_is_a_valid_empty_report() {
    let r = report(&[]);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["events"], 0);
    assert_eq!(json["sessions"]["count"], 0);
    assert_eq!(json["sessions"]["mean_duration_s"], 0.0);
    assert_eq!(json["funnel"]["users"], serde_json::json!([0, 0, 0]));
    assert_eq!(json["daily"], serde_json::json!([]));
    assert_eq!(json["top_items"], serde_json::json!([]));
}

#[test]
fn keys_are_in_the_issue_order() {
    let r = report(&[("u", T0, "view", "i")]);
    let json = r.to_json();
    let keys = [
        "\"events\"",
        "\"rejected\"",
        "\"users\"",
        "\"events_by_type\"",
        "\"daily\"",
        "\"sessions\"",
        "\"funnel\"",
        "\"retention\"",
        "\"top_items\"",
    ];
    let positions: Vec<usize> = keys.iter().map(|k| json.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
    for (outer, inner) in [
        (
            "\"date\"",
            [
                "\"events\"",
                "\"active_users\"",
                "\"new_users\"",
                "\"sessions\"",
            ],
        ),
        (
            "\"count\"",
            [
                "\"mean_duration_s\"",
                "\"median_duration_s\"",
                "\"mean_events\"",
                "\"bounce_rate\"",
            ],
        ),
    ] {
        let at = json.find(outer).unwrap();
        let positions: Vec<usize> = inner
            .iter()
            .map(|k| at + json[at..].find(k).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
    }
}

#[test]
fn row_order_and_partition_count_do_not_change_the_json() {
    let mut rows: Vec<RowRef<'_>> = Vec::new();
    let users = ["u1", "u2", "u3", "u4", "u5", "u6", "u7"];
    let events = ["view", "cart", "purchase", "view", "other"];
    let items = ["", "i1", "i2", "i3"];
    for i in 0..700i64 {
        let u = users[(i * 7 % 11 % 7) as usize];
        rows.push((
            u,
            T0 + (i * 7919 % 1000) * MIN,
            events[(i % 5) as usize],
            items[(i % 4) as usize],
        ));
    }
    let config = AnalyzeConfig::default();
    let base = analyze_rows(&rows, &config, 1).unwrap().to_json();
    for p in [2, 5, 16] {
        assert_eq!(analyze_rows(&rows, &config, p).unwrap().to_json(), base);
    }
    rows.reverse();
    assert_eq!(analyze_rows(&rows, &config, 3).unwrap().to_json(), base);
}
