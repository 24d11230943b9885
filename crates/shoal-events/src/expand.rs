//! Expanding the user's input arguments into a sorted list of files.

use std::path::{Path, PathBuf};

use crate::error::InputError;

/// Files named by `inputs`, in argument order; each directory's files
/// (recursive, sorted, skipping `.`/`_`-prefixed names such as `_SUCCESS`)
/// and each glob's matches (sorted) in place. A file named twice is read
/// once.
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
    let local = match input.split_once("://") {
        Some(("file", rest)) => rest,
        Some(_) => {
            return Err(InputError::UnsupportedUrl {
                url: input.to_string(),
            })
        }
        None => input,
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
