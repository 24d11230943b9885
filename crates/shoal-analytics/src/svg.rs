//! Hand-written SVG charts for the HTML report: no plotting dependency, no
//! scripts, no network assets; every chart is a plain `<svg>` element.

use std::fmt::Write;

use crate::format::{percent, share, thousands};

/// Series colours (blue, amber, green), readable on white.
pub const COLORS: [&str; 3] = ["#2563eb", "#d97706", "#059669"];

/// Escapes text for XML/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Shortens long labels so they fit their column.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// A "nice" axis maximum and tick step covering `max` with ~5 ticks.
fn nice_axis(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let rough = max as f64 / 5.0;
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * mag)
        .max(1.0) as u64;
    (max.div_ceil(step) * step, step)
}

/// Compact axis labels: `12k`, `1.5M`.
fn short(n: u64) -> String {
    match n {
        0..=9_999 => thousands(n),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => {
            let m = n as f64 / 1e6;
            if m.fract() == 0.0 {
                format!("{m:.0}M")
            } else {
                format!("{m:.1}M")
            }
        }
    }
}

/// One named line of a line chart.
pub struct Series<'a> {
    /// Legend text.
    pub name: &'a str,
    /// One value per x label.
    pub values: Vec<u64>,
}

/// A line chart over `labels` (dates), one line per series.
pub fn line_chart(labels: &[String], series: &[Series<'_>]) -> String {
    let (w, h) = (920.0, 300.0);
    let (left, right, top, bottom) = (64.0, 16.0, 36.0, 40.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let (ymax, ystep) = nice_axis(max);
    let n = labels.len();
    let x = |i: usize| {
        if n <= 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: u64| top + plot_h - plot_h * v as f64 / ymax as f64;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="daily activity">"#
    );
    let mut tick = 0;
    while tick <= ymax {
        let ty = y(tick);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" class="axis" text-anchor="end">{}</text>"##,
            w - right,
            left - 8.0,
            ty + 4.0,
            short(tick)
        );
        tick += ystep;
    }
    for (i, anchor) in x_labels(n, x) {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" class="axis" text-anchor="{anchor}">{}</text>"#,
            x(i),
            h - bottom + 20.0,
            esc(&labels[i])
        );
    }
    for (k, ser) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let points: Vec<String> = ser
            .values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round" points="{}"/>"#,
            points.join(" ")
        );
        if n <= 62 {
            for (i, &v) in ser.values.iter().enumerate() {
                let _ = write!(
                    s,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{color}"><title>{} {}: {}</title></circle>"#,
                    x(i),
                    y(v),
                    esc(&labels[i]),
                    esc(ser.name),
                    thousands(v)
                );
            }
        }
        let lx = left + 8.0 + 170.0 * k as f64;
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="10" width="14" height="14" rx="3" fill="{color}"/><text x="{}" y="22" class="legend">{}</text>"#,
            lx + 20.0,
            esc(ser.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Which date labels to draw, and their anchors: about eight, the first and
/// last always, none overlapping (a date label is ~75 px wide).
fn x_labels(n: usize, x: impl Fn(usize) -> f64) -> Vec<(usize, &'static str)> {
    const WIDTH: f64 = 75.0;
    let every = n.div_ceil(8).max(1);
    let anchor = |i: usize| match i {
        _ if n == 1 => "middle",
        0 => "start",
        i if i + 1 == n => "end",
        _ => "middle",
    };
    let extent = |i: usize| match anchor(i) {
        "start" => (x(i), x(i) + WIDTH),
        "end" => (x(i) - WIDTH, x(i)),
        _ => (x(i) - WIDTH / 2.0, x(i) + WIDTH / 2.0),
    };
    let mut kept: Vec<usize> = Vec::new();
    for i in (0..n).filter(|i| i % every == 0 || i + 1 == n) {
        while let Some(&prev) = kept.last() {
            if extent(prev).1 + 8.0 <= extent(i).0 {
                break;
            }
            if i + 1 == n && prev != 0 {
                kept.pop();
            } else {
                break;
            }
        }
        if kept
            .last()
            .is_none_or(|&prev| extent(prev).1 + 8.0 <= extent(i).0)
        {
            kept.push(i);
        }
    }
    kept.into_iter().map(|i| (i, anchor(i))).collect()
}

/// One bar of a horizontal bar chart.
pub struct Bar<'a> {
    /// Label left of the bar.
    pub label: &'a str,
    /// Bar length.
    pub value: u64,
    /// Text right of the bar.
    pub note: String,
}

/// Horizontal bars scaled to the largest value.
pub fn bar_chart(bars: &[Bar<'_>], color: &str) -> String {
    let row = 30.0;
    let (w, label_w, note_w) = (920.0, 220.0, 230.0);
    let bar_w = w - label_w - note_w - 16.0;
    let h = row * bars.len() as f64 + 8.0;
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1);
    let mut s =
        format!(r#"<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="bar chart">"#);
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let len = (bar_w * b.value as f64 / max as f64).max(if b.value > 0 { 2.0 } else { 0.0 });
        let _ = write!(
            s,
            r##"<text x="{}" y="{:.1}" class="label" text-anchor="end">{}<title>{}</title></text><rect x="{label_w}" y="{:.1}" width="{bar_w:.1}" height="20" rx="4" fill="#f3f4f6"/><rect x="{label_w}" y="{:.1}" width="{len:.1}" height="20" rx="4" fill="{color}"/><text x="{:.1}" y="{:.1}" class="note">{}</text>"##,
            label_w - 10.0,
            y + 15.0,
            esc(&clip(b.label, 28)),
            esc(b.label),
            y,
            y,
            label_w + bar_w + 10.0,
            y + 15.0,
            esc(&b.note)
        );
    }
    s.push_str("</svg>");
    s
}

/// Funnel bars with step-to-step conversion between them.
pub fn funnel_chart(steps: &[String], users: &[u64]) -> String {
    let first = users.first().copied().unwrap_or(0);
    let bars: Vec<Bar<'_>> = steps
        .iter()
        .zip(users)
        .enumerate()
        .map(|(i, (step, &n))| {
            let conv = if i == 0 {
                String::new()
            } else {
                format!(" · {} of prev.", percent(share(n, users[i - 1])))
            };
            Bar {
                label: step,
                value: n,
                note: format!("{} ({}){conv}", thousands(n), percent(share(n, first))),
            }
        })
        .collect();
    bar_chart(&bars, COLORS[0])
}

/// One heatmap row: cohort date, size, active users per day offset, and
/// how many day offsets the data covers (later cells are left blank:
/// "not observed yet" is not "nobody came back").
pub struct CohortCells {
    /// Cohort date.
    pub cohort: String,
    /// Users in the cohort.
    pub size: u64,
    /// Active users on cohort + d.
    pub active: Vec<u64>,
    /// Offsets d ≤ this are inside the data's date range.
    pub observed: usize,
}

/// Retention heatmap: one row per cohort, one column per day offset,
/// cells shaded by the share of the cohort active that day.
pub fn heatmap(cohorts: &[CohortCells]) -> String {
    let days = cohorts.iter().map(|c| c.active.len()).max().unwrap_or(0);
    let (label_w, size_w, cell_h, top) = (100.0, 80.0, 24.0, 28.0);
    let cell_w = ((920.0 - label_w - size_w) / days.max(1) as f64).clamp(28.0, 72.0);
    let w = label_w + size_w + cell_w * days as f64;
    let h = top + cell_h * cohorts.len() as f64 + 4.0;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w:.0} {h}" class="chart heat" role="img" aria-label="retention">"#
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="18" class="axis" text-anchor="end">users</text>"#,
        label_w + size_w - 10.0
    );
    for d in 0..days {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="18" class="axis" text-anchor="middle">d{d}</text>"#,
            label_w + size_w + cell_w * (d as f64 + 0.5)
        );
    }
    for (r, row) in cohorts.iter().enumerate() {
        let (cohort, size) = (&row.cohort, &row.size);
        let y = top + cell_h * r as f64;
        let _ = write!(
            s,
            r#"<text x="0" y="{:.1}" class="label">{}</text><text x="{}" y="{:.1}" class="axis" text-anchor="end">{}</text>"#,
            y + 16.0,
            esc(cohort),
            label_w + size_w - 10.0,
            y + 16.0,
            thousands(*size)
        );
        for (d, &a) in row.active.iter().enumerate() {
            let cx = label_w + size_w + cell_w * d as f64;
            if d > row.observed {
                let _ = write!(
                    s,
                    r##"<rect x="{cx:.1}" y="{y:.1}" width="{:.1}" height="{}" fill="#f9fafb"><title>{} d{d}: after the last date of the data</title></rect>"##,
                    cell_w - 2.0,
                    cell_h - 2.0,
                    esc(cohort)
                );
                continue;
            }
            let sh = share(a, *size);
            // Lightness from 97% (none) to 35% (everyone): a single-hue ramp.
            let light = 97.0 - 62.0 * sh.sqrt();
            let text = if light < 62.0 { "#ffffff" } else { "#1f2937" };
            let _ = write!(
                s,
                r#"<rect x="{cx:.1}" y="{y:.1}" width="{:.1}" height="{}" fill="hsl(221,83%,{light:.0}%)"><title>{} d{d}: {} of {} ({})</title></rect>"#,
                cell_w - 2.0,
                cell_h - 2.0,
                esc(cohort),
                thousands(a),
                thousands(*size),
                percent(sh)
            );
            if cell_w >= 44.0 {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" class="cell" text-anchor="middle" fill="{text}">{:.0}%</text>"#,
                    cx + cell_w / 2.0 - 1.0,
                    y + 15.5,
                    sh * 100.0
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_is_nice_and_covers_the_maximum() {
        assert_eq!(nice_axis(0), (1, 1));
        assert_eq!(nice_axis(97), (100, 20));
        assert_eq!(nice_axis(12_345), (12_500, 2500));
        assert_eq!(short(1_500_000), "1.5M");
    }

    #[test]
    fn date_labels_never_overlap_and_keep_both_ends() {
        for n in [1usize, 2, 3, 9, 32, 100, 365] {
            let x = |i: usize| 64.0 + 840.0 * i as f64 / (n.max(2) - 1) as f64;
            let kept = x_labels(n, x);
            assert_eq!(kept.first().map(|k| k.0), Some(0), "n={n}");
            if n > 1 && 840.0 / (n - 1) as f64 * (n - 1) as f64 > 160.0 {
                assert_eq!(kept.last().map(|k| k.0), Some(n - 1), "n={n}");
            }
            assert!(kept.len() <= 10, "n={n}: {kept:?}");
            let xs: Vec<f64> = kept.iter().map(|k| x(k.0)).collect();
            assert!(
                xs.windows(2).all(|w| w[1] - w[0] >= 75.0),
                "n={n}: {kept:?}"
            );
        }
    }

    #[test]
    fn labels_are_escaped() {
        let svg = bar_chart(
            &[Bar {
                label: "<b>&",
                value: 3,
                note: "x".into(),
            }],
            COLORS[0],
        );
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(!svg.contains("<b>"));
    }
}
