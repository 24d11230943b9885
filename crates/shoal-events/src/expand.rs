//! Expanding the user's input arguments into a sorted list of files.

use std::path::{Path, PathBuf};

use shoal_store::{Store, StoreError};

use crate::error::InputError;
use crate::source::is_store_url;

/// Files named by `inputs`, in argument order; each directory's files
/// (recursive, sorted, skipping `.`/`_`-prefixed names such as `_SUCCESS`)
/// and each glob's matches (sorted) in place. A file named twice is read
/// once. Store URLs (`s3://bucket/prefix/`, globs such as
/// `s3://bucket/logs/*.csv`) expand the same way by listing keys; their
/// files are returned as URLs.
pub(crate) fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for input in inputs {
        for file in expand_one(input)? {
            if !files.contains(&file) {
                files.push(file);
            }
        }
    }
    Ok(files)
}

fn expand_one(input: &str) -> Result<Vec<PathBuf>, InputError> {
    if is_store_url(input) {
        return expand_remote(input);
    }
    let local = match input.split_once("://") {
        Some(("file", rest)) => rest,
        _ => input,
    };
    let path = Path::new(local);
    if path.is_dir() {
        let mut files = Vec::new();
        walk(path, &mut files)?;
        files.sort();
        if files.is_empty() {
            return Err(InputError::NoMatch {
                pattern: input.to_string(),
            });
        }
        return Ok(files);
    }
    if path.exists() {
        return Ok(vec![path.to_path_buf()]);
    }
    if local.contains(['*', '?', '[']) {
        return glob_files(input, local);
    }
    Err(InputError::NotFound {
        path: input.to_string(),
    })
}

fn glob_files(input: &str, pattern: &str) -> Result<Vec<PathBuf>, InputError> {
    let paths = glob::glob(pattern).map_err(|e| InputError::BadGlob {
        pattern: input.to_string(),
        reason: e.msg.to_string(),
    })?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| {
            let path = e.path().to_path_buf();
            InputError::io(path, e.into())
        })?;
        if path.is_dir() {
            walk(&path, &mut files)?;
        } else {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(InputError::NoMatch {
            pattern: input.to_string(),
        });
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), InputError> {
    let entries = std::fs::read_dir(dir).map_err(|e| InputError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| InputError::io(dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(['.', '_']) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Lists a store URL: a glob over keys, a folder-like prefix, or one object.
fn expand_remote(input: &str) -> Result<Vec<PathBuf>, InputError> {
    let (store, key) = Store::open_container(input)?;
    let root = store.url().to_string();
    // The listed objects below `folder` that `keep` accepts, as URLs.
    let matching = |folder: &str, keep: &dyn Fn(&str) -> bool| {
        let files: Vec<PathBuf> = store
            .list(folder)?
            .into_iter()
            .filter(|o| keep(&o.key) && !hidden(&o.key[folder.len()..]))
            .map(|o| PathBuf::from(format!("{root}/{}", o.key)))
            .collect();
        match files.is_empty() {
            true => Err(InputError::NoMatch {
                pattern: input.to_string(),
            }),
            false => Ok(files),
        }
    };
    if let Some(glob_at) = key.find(['*', '?', '[']) {
        let pattern = glob::Pattern::new(&key).map_err(|e| InputError::BadGlob {
            pattern: input.to_string(),
            reason: e.msg.to_string(),
        })?;
        let folder = key[..glob_at].rsplit_once('/').map_or("", |(dir, _)| dir);
        return matching(folder, &|k| glob_matches(&pattern, k));
    }
    match matching(&key, &|_| true) {
        Err(InputError::NoMatch { .. }) => {}
        listed => return listed,
    }
    match store.size(&key) {
        Ok(_) if !key.is_empty() => Ok(vec![PathBuf::from(format!("{root}/{key}"))]),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(InputError::NotFound {
            path: input.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// A key matches when it, or the folder it lies in at any depth, matches
/// (a pattern naming folders takes everything inside, as for local globs);
/// `*` never crosses a `/`.
fn glob_matches(pattern: &glob::Pattern, key: &str) -> bool {
    let options = glob::MatchOptions {
        require_literal_separator: true,
        ..Default::default()
    };
    key.match_indices('/')
        .map(|(i, _)| &key[..i])
        .chain([key])
        .any(|prefix| pattern.matches_with(prefix, options))
}

/// Whether a key below a listed prefix has a `.`/`_`-prefixed component.
fn hidden(relative: &str) -> bool {
    relative.split('/').any(|part| part.starts_with(['.', '_']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_keys_and_folders_without_crossing_slashes() {
        let p = glob::Pattern::new("logs/*.csv").unwrap();
        assert!(glob_matches(&p, "logs/a.csv"));
        assert!(!glob_matches(&p, "logs/x/a.csv"));
        let p = glob::Pattern::new("logs/2024-*").unwrap();
        assert!(glob_matches(&p, "logs/2024-01/part-0.csv"));
        assert!(!glob_matches(&p, "logs/2023-12/part-0.csv"));
        assert!(hidden("/_SUCCESS"));
        assert!(hidden("/.tmp/a"));
        assert!(!hidden("/a/b.csv"));
    }

    #[test]
    fn expands_memory_store_urls_like_directories() {
        let base = format!("memory://expand-{}", std::process::id());
        let store = Store::open(&base).unwrap();
        for key in [
            "ev/b.csv",
            "ev/a.csv",
            "ev/_SUCCESS",
            "ev/sub/c.jsonl",
            "other/d.csv",
        ] {
            store.put(key, bytes::Bytes::from_static(b"x")).unwrap();
        }
        let names = |input: &str| -> Vec<String> {
            expand_inputs(&[input.to_string()])
                .unwrap()
                .iter()
                .map(|p| p.display().to_string())
                .collect()
        };
        assert_eq!(
            names(&format!("{base}/ev/")),
            [
                format!("{base}/ev/a.csv"),
                format!("{base}/ev/b.csv"),
                format!("{base}/ev/sub/c.jsonl")
            ]
        );
        assert_eq!(
            names(&format!("{base}/ev/*.csv")),
            [format!("{base}/ev/a.csv"), format!("{base}/ev/b.csv")]
        );
        assert_eq!(
            names(&format!("{base}/other/d.csv")),
            [format!("{base}/other/d.csv")]
        );
        let missing = expand_inputs(&[format!("{base}/nope")]).unwrap_err();
        assert!(matches!(missing, InputError::NotFound { .. }), "{missing}");
        let none = expand_inputs(&[format!("{base}/ev/*.parquet")]).unwrap_err();
        assert!(matches!(none, InputError::NoMatch { .. }), "{none}");
    }
}
