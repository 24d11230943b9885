//! The `map` job's parameters: what `shoal map` was asked, and what the
//! driver resolved before any task runs.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shoal_core::JobError;
use shoal_store::inputs::{expand_inputs, plan_line_splits, InputFile, LineSplit};

use crate::ship::ShippedFile;
use crate::{KeySpec, JOB_NAME};

/// Target bytes per map task when none is given.
pub const DEFAULT_SPLIT_BYTES: u64 = 32 << 20;

/// Parameters of the `map` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapParams {
    /// Input files, directories, globs or store URLs.
    pub inputs: Vec<String>,
    /// The mapper's shell command.
    pub mapper: String,
    /// The reducer's shell command; none: map-only.
    #[serde(default)]
    pub reducer: Option<String>,
    /// The combiner's shell command, run on each map task's sorted output.
    #[serde(default)]
    pub combiner: Option<String>,
    /// Reduce partitions; 0: map-only.
    pub reducers: u32,
    /// Where the part files go: a directory or a store URL prefix.
    pub out: String,
    /// Replace what `out` holds instead of refusing to run.
    #[serde(default)]
    pub overwrite: bool,
    /// Files placed in every task's directory.
    #[serde(default)]
    pub ship: Vec<ShippedFile>,
    /// Variables added to every program's environment.
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// A task attempt running longer is killed and fails.
    #[serde(default, with = "millis")]
    pub task_timeout: Option<Duration>,
    /// How output lines are cut into key and value.
    #[serde(default)]
    pub keys: KeySpec,
    /// Run the mapper once per input file with `{}` replaced by its
    /// local path, instead of streaming lines to it.
    #[serde(default)]
    pub per_file: bool,
    /// Target bytes per map task (line streaming only).
    #[serde(default = "default_split_bytes")]
    pub split_bytes: u64,
    /// Filled by `prepare`: one map task per entry (a whole file with
    /// `per_file`).
    #[serde(default)]
    pub splits: Vec<LineSplit>,
}

fn default_split_bytes() -> u64 {
    DEFAULT_SPLIT_BYTES
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        value.map(|d| d.as_millis() as u64).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

fn invalid(message: impl std::fmt::Display) -> JobError {
    JobError::invalid_input(JOB_NAME, message)
}

impl MapParams {
    /// A map-only job of `mapper` over `inputs` into `out`, with every
    /// other setting at its default.
    pub fn new(inputs: Vec<String>, mapper: &str, out: &str) -> Self {
        MapParams {
            inputs,
            mapper: mapper.to_string(),
            reducer: None,
            combiner: None,
            reducers: 0,
            out: out.to_string(),
            overwrite: false,
            ship: Vec::new(),
            env: Vec::new(),
            task_timeout: None,
            keys: KeySpec::default(),
            per_file: false,
            split_bytes: DEFAULT_SPLIT_BYTES,
            splits: Vec::new(),
        }
    }

    /// Whether records go through a shuffle to reducers.
    pub fn has_reduce(&self) -> bool {
        self.reducer.is_some() && self.reducers > 0
    }

    /// Checks the settings; each error names the flag or file at fault.
    pub fn validate(&self) -> Result<(), JobError> {
        if self.mapper.trim().is_empty() {
            return Err(invalid("--mapper must name a command"));
        }
        if self.inputs.is_empty() {
            return Err(invalid("no input given"));
        }
        if self.out.trim().is_empty() {
            return Err(invalid("--out must name a directory or store URL"));
        }
        self.keys.validate().map_err(invalid)?;
        if self.combiner.is_some() && !self.has_reduce() {
            return Err(invalid(
                "--combiner needs a reducer: a map-only job's output is the mappers' output",
            ));
        }
        if self.per_file && !self.mapper.contains("{}") {
            return Err(invalid(
                "--per-file needs `{}` in --mapper, where each file's local path goes",
            ));
        }
        for (key, _) in &self.env {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return Err(invalid(format!("--env {key:?}: expected KEY=VALUE")));
            }
        }
        for file in &self.ship {
            file.validate().map_err(invalid)?;
        }
        Ok(())
    }

    /// Resolves the inputs into map tasks: line splits, or one task per
    /// file with `per_file`. Parquet is refused for line streaming.
    pub fn plan_splits(&mut self) -> Result<(), JobError> {
        if self.per_file {
            let mut splits = Vec::new();
            for file in expand_inputs(&self.inputs).map_err(invalid)? {
                let size = InputFile::of(&file)
                    .and_then(|f| f.size())
                    .map_err(invalid)?;
                splits.push(LineSplit {
                    path: file.display().to_string(),
                    start: 0,
                    end: size,
                });
            }
            self.splits = splits;
            return Ok(());
        }
        for file in expand_inputs(&self.inputs).map_err(invalid)? {
            if is_parquet(&file) {
                return Err(invalid(format!(
                    "{}: Parquet inputs are not supported by `map` yet (its programs read \
                     text lines); pass --per-file to hand whole files to the program",
                    file.display()
                )));
            }
        }
        self.splits = plan_line_splits(&self.inputs, self.split_bytes).map_err(invalid)?;
        Ok(())
    }

    /// Makes local paths absolute (`--out`, splits), so that workers whose
    /// working directory differs from the driver's find the same files.
    pub fn absolutize(&mut self) {
        self.out = absolute(&self.out);
        for split in &mut self.splits {
            split.path = absolute(&split.path);
        }
    }
}

/// `path` made absolute against this process's working directory, unless
/// it is a URL or already absolute.
fn absolute(path: &str) -> String {
    if path.contains("://") {
        return path.to_string();
    }
    std::path::absolute(path).map_or_else(|_| path.to_string(), |p| p.display().to_string())
}

fn is_parquet(file: &std::path::Path) -> bool {
    let name = PathBuf::from(file.file_name().unwrap_or_default())
        .to_string_lossy()
        .to_ascii_lowercase();
    name.ends_with(".parquet") || name.ends_with(".pq")
}
