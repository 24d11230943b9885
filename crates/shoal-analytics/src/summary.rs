//! The terminal summary: the report as a few aligned plain-text tables.

use std::fmt::Write;

use crate::date::parse_day;
use crate::format::{duration, percent, share, thousands, window};
use crate::html::observed_days;
use crate::report::Report;

/// Most daily rows and cohorts printed; older ones are summarised.
const MAX_ROWS: usize = 14;
/// Most retention day columns printed.
const MAX_DAYS: usize = 8;

/// Renders `report` as the default stdout summary.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    overview(&mut out, report);
    by_type(&mut out, report);
    funnel(&mut out, report);
    daily(&mut out, report);
    retention(&mut out, report);
    top_items(&mut out, report);
    out
}

fn overview(out: &mut String, r: &Report) {
    let s = &r.sessions;
    let _ = writeln!(
        out,
        "Events    {:>14}   rejected {}",
        thousands(r.events),
        thousands(r.rejected)
    );
    let _ = writeln!(out, "Users     {:>14}", thousands(r.users));
    let _ = writeln!(
        out,
        "Sessions  {:>14}   mean {} · median {} · {:.2} events/session · bounce {}",
        thousands(s.count),
        duration(s.mean_duration_s),
        duration(s.median_duration_s),
        s.mean_events,
        percent(s.bounce_rate)
    );
}

fn by_type(out: &mut String, r: &Report) {
    if r.events_by_type.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nEvents by type");
    let width = name_width(r.events_by_type.keys().map(String::as_str), "type");
    for (name, &n) in &r.events_by_type {
        let _ = writeln!(
            out,
            "  {name:<width$}  {:>12}  {:>6}",
            thousands(n),
            percent(share(n, r.events))
        );
    }
}

fn funnel(out: &mut String, r: &Report) {
    let f = &r.funnel;
    let window_ms = (f.window_s.as_f64().unwrap_or(0.0) * 1000.0).round() as u64;
    let _ = writeln!(
        out,
        "\nFunnel (window {}, strictly increasing times)",
        window(window_ms)
    );
    let width = name_width(f.steps.iter().map(String::as_str), "step");
    let first = f.users.first().copied().unwrap_or(0);
    for (i, (step, &n)) in f.steps.iter().zip(&f.users).enumerate() {
        let step_conv = if i == 0 {
            String::new()
        } else {
            format!("  {} of previous step", percent(share(n, f.users[i - 1])))
        };
        let _ = writeln!(
            out,
            "  {step:<width$}  {:>12}  {:>6} of step 1{step_conv}",
            thousands(n),
            percent(share(n, first))
        );
    }
}

fn daily(out: &mut String, r: &Report) {
    if r.daily.is_empty() {
        return;
    }
    let skip = r.daily.len().saturating_sub(MAX_ROWS);
    let note = if skip > 0 {
        format!(" (last {MAX_ROWS} of {} dates)", r.daily.len())
    } else {
        String::new()
    };
    let _ = writeln!(out, "\nDaily{note}");
    let _ = writeln!(
        out,
        "  {:<10}  {:>12}  {:>10}  {:>10}  {:>10}",
        "date", "events", "active", "new", "sessions"
    );
    for d in &r.daily[skip..] {
        let _ = writeln!(
            out,
            "  {:<10}  {:>12}  {:>10}  {:>10}  {:>10}",
            d.date,
            thousands(d.events),
            thousands(d.active_users),
            thousands(d.new_users),
            thousands(d.sessions)
        );
    }
}

fn retention(out: &mut String, r: &Report) {
    if r.retention.is_empty() {
        return;
    }
    let days = r.retention[0].active.len().min(MAX_DAYS);
    let skip = r.retention.len().saturating_sub(MAX_ROWS);
    let note = if skip > 0 {
        format!(", last {MAX_ROWS} of {} cohorts", r.retention.len())
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "\nRetention (share of cohort active d days later{note})"
    );
    let mut header = format!("  {:<10}  {:>10}", "cohort", "size");
    for d in 0..days {
        let _ = write!(header, "  {:>6}", format!("d{d}"));
    }
    let _ = writeln!(out, "{header}");
    let last = r.daily.last().and_then(|d| parse_day(&d.date));
    for c in &r.retention[skip..] {
        let mut line = format!("  {:<10}  {:>10}", c.cohort, thousands(c.size));
        let observed = observed_days(last, &c.cohort);
        for (d, &a) in c.active.iter().take(days).enumerate() {
            // Past the data's last date nothing was observed: not a 0%.
            let cell = if d > observed {
                "–".to_string()
            } else {
                percent(share(a, c.size))
            };
            let _ = write!(line, "  {cell:>6}");
        }
        let _ = writeln!(out, "{line}");
    }
}

fn top_items(out: &mut String, r: &Report) {
    if r.top_items.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nTop items");
    let width = name_width(r.top_items.iter().map(|t| t.item.as_str()), "item");
    let _ = writeln!(
        out,
        "  {:<width$}  {:>12}  {:>10}",
        "item", "events", "users"
    );
    for t in &r.top_items {
        let _ = writeln!(
            out,
            "  {:<width$}  {:>12}  {:>10}",
            t.item,
            thousands(t.events),
            thousands(t.users)
        );
    }
}

/// Column width for names, capped so one long id cannot wreck the table.
fn name_width<'a>(names: impl Iterator<Item = &'a str>, header: &str) -> usize {
    names
        .map(|n| n.chars().count())
        .chain([header.len()])
        .max()
        .unwrap_or(0)
        .min(40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze_rows, AnalyzeConfig};

    #[test]
    fn summary_names_every_section() {
        let t0 = 1_767_225_600_000;
        let rows = [
            ("u", t0, "view", "i1"),
            ("u", t0 + 1000, "cart", "i1"),
            ("v", t0, "view", ""),
        ];
        let r = analyze_rows(&rows, &AnalyzeConfig::default(), 2).unwrap();
        let s = render(&r);
        for needle in [
            "Events",
            "Users",
            "Sessions",
            "Funnel",
            "Daily",
            "Retention",
            "Top items",
            "2026-01-01",
            "i1",
        ] {
            assert!(s.contains(needle), "{needle} missing in\n{s}");
        }
        assert!(s.contains("50.0% of step 1"), "{s}");
    }

    #[test]
    fn empty_report_summary_does_not_panic() {
        let r = analyze_rows(&[], &AnalyzeConfig::default(), 1).unwrap();
        assert!(render(&r).contains("Events"));
    }
}
