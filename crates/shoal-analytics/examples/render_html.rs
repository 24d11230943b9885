//! Re-renders a saved report: `render_html REPORT.json OUT.html`.
//! Handy for working on the page without re-running the analysis.

use shoal_analytics::{html, Report};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, input, output] = args.as_slice() else {
        return Err("usage: render_html REPORT.json OUT.html".into());
    };
    let report: Report = serde_json::from_slice(&std::fs::read(input)?)?;
    std::fs::write(
        output,
        html::render(&report, &format!("re-rendered from {input}")),
    )?;
    Ok(())
}
