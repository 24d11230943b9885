//! The jobs of the stream: their inputs, command lines and the embedded
//! runs their cluster output must equal byte for byte.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The bucket holding copies of the inputs on the S3 server.
pub const INPUT_BUCKET: &str = "inputs";

/// A job of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// `shoal wordcount` over text files on the shared disk.
    Wordcount,
    /// The same texts read from the S3 server.
    WordcountS3,
    /// `shoal analyze` over CSV event logs on the shared disk.
    AnalyzeCsv,
    /// The same CSV read from the S3 server.
    AnalyzeCsvS3,
    /// `shoal analyze` over Parquet event logs.
    AnalyzeParquet,
    /// `shoal run array-sort`: a DistArray sample sort.
    ArraySort,
}

impl JobKind {
    /// Every job, in the order the schedule indexes them.
    pub const ALL: [JobKind; 6] = [
        JobKind::Wordcount,
        JobKind::WordcountS3,
        JobKind::AnalyzeCsv,
        JobKind::AnalyzeCsvS3,
        JobKind::AnalyzeParquet,
        JobKind::ArraySort,
    ];

    /// The name in logs and reports.
    pub fn label(self) -> &'static str {
        match self {
            JobKind::Wordcount => "wordcount",
            JobKind::WordcountS3 => "wordcount (S3 input)",
            JobKind::AnalyzeCsv => "analyze CSV",
            JobKind::AnalyzeCsvS3 => "analyze CSV (S3 input)",
            JobKind::AnalyzeParquet => "analyze Parquet",
            JobKind::ArraySort => "array-sort",
        }
    }

    /// About how long the job takes on an unhurt cluster of debug
    /// binaries; faults are placed within it (a fixed figure, so the
    /// schedule stays a function of the seed).
    pub fn nominal(self) -> Duration {
        Duration::from_millis(match self {
            JobKind::Wordcount | JobKind::WordcountS3 => 2_000,
            JobKind::AnalyzeCsv | JobKind::AnalyzeCsvS3 => 6_000,
            JobKind::AnalyzeParquet => 3_000,
            JobKind::ArraySort => 3_000,
        })
    }

    /// Whether the job reads its input from the S3 server.
    pub fn reads_s3(self) -> bool {
        matches!(self, JobKind::WordcountS3 | JobKind::AnalyzeCsvS3)
    }

    /// The job's own arguments (no `--coord`/`--store`).
    pub fn args(self, inputs: &Inputs) -> Vec<String> {
        let s3 = |dir: &str| format!("s3://{INPUT_BUCKET}/{dir}/");
        let path = |p: &Path| p.display().to_string();
        let wordcount = |input: String| {
            let rest = ["--json", "--partitions", "6", "--top", "25"];
            std::iter::once("wordcount".to_string())
                .chain(std::iter::once(input))
                .chain(rest.map(String::from))
                .collect()
        };
        let analyze = |input: String| vec!["analyze".to_string(), input, "--json".to_string()];
        match self {
            JobKind::Wordcount => wordcount(path(&inputs.texts)),
            JobKind::WordcountS3 => wordcount(s3("texts")),
            JobKind::AnalyzeCsv => analyze(path(&inputs.csv)),
            JobKind::AnalyzeCsvS3 => analyze(s3("csv")),
            JobKind::AnalyzeParquet => analyze(path(&inputs.parquet)),
            JobKind::ArraySort => ["run", "array-sort", "--params"]
                .map(String::from)
                .into_iter()
                .chain([r#"{"n": 3000000, "partitions": 12}"#.to_string()])
                .collect(),
        }
    }

    /// The job whose embedded output this one's must equal: a job reading
    /// S3 copies of the inputs prints what the one reading the disk does.
    fn reference(self) -> JobKind {
        match self {
            JobKind::WordcountS3 => JobKind::Wordcount,
            JobKind::AnalyzeCsvS3 => JobKind::AnalyzeCsv,
            other => other,
        }
    }
}

/// The input files, on the disk every process shares.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Text files for wordcount.
    pub texts: PathBuf,
    /// CSV event logs.
    pub csv: PathBuf,
    /// Parquet event logs.
    pub parquet: PathBuf,
}

impl Inputs {
    /// Generates every input under `dir` with `shoal` (fixed seeds: the
    /// inputs are the same in every run, only the faults differ).
    pub fn generate(shoal: &Path, dir: &Path) -> Result<Inputs> {
        let inputs = Inputs {
            texts: dir.join("texts"),
            csv: dir.join("csv"),
            parquet: dir.join("parquet"),
        };
        write_texts(&inputs.texts)?;
        gen_events(shoal, &inputs.csv, 1_000_000, 41, 6, "csv")?;
        gen_events(shoal, &inputs.parquet, 1_000_000, 43, 4, "parquet")?;
        Ok(inputs)
    }

    /// Copies the inputs into bucket [`INPUT_BUCKET`] of an `s3s-fs`
    /// server whose root directory is `root` (it serves a bucket's
    /// files as objects).
    pub fn copy_to_s3_root(&self, root: &Path) -> Result<()> {
        for (dir, name) in [(&self.texts, "texts"), (&self.csv, "csv")] {
            let target = root.join(INPUT_BUCKET).join(name);
            std::fs::create_dir_all(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            for entry in std::fs::read_dir(dir)? {
                let from = entry?.path();
                let to = target.join(from.file_name().unwrap_or_default());
                std::fs::copy(&from, &to)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            }
        }
        Ok(())
    }
}

/// Words with a few common ones and many rare ones, so some count tasks'
/// results travel inline and others through the store.
fn write_texts(dir: &Path) -> Result<()> {
    const WORDS: [&str; 7] = ["tide", "reef", "shoal", "fish", "école", "kelp", "gull"];
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in 0..6usize {
        let mut text = String::new();
        for i in 0..60_000usize {
            text.push_str(WORDS[(i * (f + 3) + i / 7) % WORDS.len()]);
            text.push(' ');
            text.push_str(&format!("word{}", (i * 7 + f) % 30_000));
            text.push(if i % 9 == 0 { '\n' } else { ' ' });
        }
        let path = dir.join(format!("part-{f}.txt"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn gen_events(
    shoal: &Path,
    dir: &Path,
    events: u64,
    seed: u64,
    files: u32,
    format: &str,
) -> Result<()> {
    let status = Command::new(shoal)
        .arg("gen")
        .arg(dir)
        .args(["--events", &events.to_string(), "--days", "14"])
        .args(["--seed", &seed.to_string(), "--files", &files.to_string()])
        .args(["--format", format])
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {} gen", shoal.display()))?;
    if !status.success() {
        bail!("shoal gen {} failed: {status}", dir.display());
    }
    Ok(())
}

/// Every job's embedded output.
pub struct References {
    outputs: HashMap<JobKind, Vec<u8>>,
}

impl References {
    /// Runs every job once embedded (2 threads) on the local inputs.
    pub fn compute(shoal: &Path, inputs: &Inputs) -> Result<References> {
        let mut outputs = HashMap::new();
        for kind in JobKind::ALL {
            let reference = kind.reference();
            if outputs.contains_key(&reference) {
                continue;
            }
            let out = Command::new(shoal)
                .args(reference.args(inputs))
                .args(["--quiet", "--threads", "2"])
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("running {} embedded", reference.label()))?;
            if !out.status.success() || out.stdout.is_empty() {
                bail!(
                    "the embedded {} failed ({}): {}",
                    reference.label(),
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            outputs.insert(reference, out.stdout);
        }
        Ok(References { outputs })
    }

    /// What `kind` must print.
    pub fn expected(&self, kind: JobKind) -> &[u8] {
        &self.outputs[&kind.reference()]
    }
}
