//! Uploads the files of a local directory to a store URL, for benchmarks
//! and trying things out:
//!
//! ```sh
//! AWS_ENDPOINT=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//!   cargo run --release -p shoal-store --example upload -- DIR s3://bucket/prefix
//! ```
//!
//! Files directly inside DIR (names starting with `.` skipped) become
//! `PREFIX/NAME`; settings come from the environment variables.

use std::process::ExitCode;

use bytes::Bytes;
use shoal_store::Store;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url] = args.as_slice() else {
        eprintln!("usage: upload DIR STORE_URL");
        return ExitCode::from(2);
    };
    match upload(dir, url) {
        Ok(count) => {
            eprintln!("uploaded {count} files to {url}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("upload: {err}");
            ExitCode::FAILURE
        }
    }
}

fn upload(dir: &str, url: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let store = Store::open(url)?;
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.file_type()?.is_file() {
            continue;
        }
        store.put(&name, Bytes::from(std::fs::read(entry.path())?))?;
        count += 1;
    }
    Ok(count)
}
