//! Server-rendered HTML: every page is complete in its first response,
//! so it shows its data before any script runs. The script
//! (`assets/app.js`) then asks for the page's `<main>` again once a
//! second (`?partial=1`) while the page is visible and its data can still
//! change, and draws the charts from the JSON each page embeds.

mod format;
mod job;
mod overview;
mod worker;

pub use job::job_page;
pub use overview::overview_page;
pub use worker::worker_page;

use format::esc;

/// A page: its title and the inside of its `<main>`.
pub struct Page {
    /// `<title>` text.
    pub title: String,
    /// The inside of `<main>`, which live updates replace.
    pub main: String,
    /// Whether the data can still change (live updates continue).
    pub live: bool,
    /// Whether the page carries the cancel token (it has a cancel button).
    pub with_cancel_token: bool,
}

/// What every page shares: where the data comes from, and the cancel
/// token for pages with a cancel button.
pub struct Chrome<'a> {
    /// Where the data comes from (redacted URL or "embedded").
    pub source: &'a str,
    /// The token pages embed for cancel requests.
    pub cancel_token: &'a str,
}

impl Page {
    /// The whole HTML document.
    pub fn document(&self, chrome: &Chrome<'_>, refresh: &str) -> String {
        let token = if self.with_cancel_token {
            format!(
                "<meta name=\"shoal-cancel-token\" content=\"{}\">\n",
                esc(chrome.cancel_token)
            )
        } else {
            String::new()
        };
        format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title} · Shoal</title>\n{token}\
             <link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">\n\
             <link rel=\"stylesheet\" href=\"/assets/app.css\">\n\
             <script src=\"/assets/app.js\" defer></script>\n</head>\n<body>\n\
             <header><a class=\"brand\" href=\"/\">Shoal</a><span class=\"source\">{source}</span>\
             <span class=\"live-status\" id=\"live-status\"></span></header>\n\
             <main id=\"live\" data-refresh=\"{refresh}\" data-live=\"{live}\">\n{main}</main>\n\
             </body>\n</html>\n",
            title = esc(&self.title),
            source = esc(chrome.source),
            refresh = esc(refresh),
            live = self.live,
            main = self.main,
        )
    }
}

/// A page saying there is nothing at this address.
pub fn not_found(what: &str) -> Page {
    Page {
        title: "Not found".into(),
        main: format!(
            "<h1>Not found</h1>\n<p class=\"empty\">{}</p>\n<p><a href=\"/\">Back to the overview</a></p>\n",
            esc(what)
        ),
        live: false,
        with_cancel_token: false,
    }
}

/// A `<progress>` bar with its count: no inline styles, so the content
/// security policy can forbid them.
fn progress(done: u64, total: u64, failed: u64) -> String {
    let failed = if failed > 0 {
        format!(" <span class=\"bad\">{failed} failed</span>")
    } else {
        String::new()
    };
    format!(
        "<progress value=\"{done}\" max=\"{max}\"></progress> <span class=\"count\">{done}/{total}</span>{failed}",
        max = total.max(1),
    )
}

/// A state as a coloured badge.
fn badge(state: &str) -> String {
    let class = match state {
        "running" => "running",
        "succeeded" => "ok",
        "failed" | "abandoned" => "bad",
        _ => "muted",
    };
    format!("<span class=\"badge {class}\">{}</span>", esc(state))
}
