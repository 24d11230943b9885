//! Chunked planning (`plan_chunks`): files cut at byte offsets without
//! reading them, each chunk finding its own first record, read the same
//! rows and name the same file lines as one whole-file read — wherever the
//! cuts fall: inside quoted fields, between `\r` and `\n`, inside a record
//! longer than a chunk, or in chunks that own no record at all.

mod common;

use std::path::Path;

use common::*;
use proptest::prelude::*;
use shoal_events::{
    place_chunks, plan_chunks, settle_quote_states, InputError, ReadOptions, Split, SplitRange,
    SplitStats, MAX_KEPT_REJECTIONS,
};

/// Reads chunk splits one by one, then places them: rejections get file
/// lines, and a wrong quote guess has the splits read once more with the
/// true states (as the analyze job does). Returns what was read and how
/// many passes it took.
fn read_chunked(mut splits: Vec<Split>, opts: &ReadOptions) -> Result<(Read, usize), InputError> {
    for pass in 1..=2 {
        let mut rows = Vec::new();
        let mut stats: Vec<SplitStats> = Vec::new();
        for split in &splits {
            let (some, s) = read_one(split, opts)?;
            rows.extend(some);
            stats.push(s);
        }
        let summaries: Vec<_> = stats.iter().map(|s| s.chunk).collect();
        let placed = place_chunks(&splits, &summaries)?;
        if placed.misguessed {
            assert_eq!(pass, 1, "the second pass guesses nothing");
            settle_quote_states(&mut splits, &placed.in_quotes);
            continue;
        }
        let mut read = Read {
            rows,
            ..Read::default()
        };
        for (s, offset) in stats.iter().zip(&placed.line_offsets) {
            read.rejected += s.rejected;
            read.rejects.extend(s.rejects.iter().map(|r| {
                let mut r = r.clone();
                r.line += offset;
                r
            }));
        }
        read.rejects.truncate(MAX_KEPT_REJECTIONS);
        return Ok((read, pass));
    }
    unreachable!("two passes at most")
}

fn chunks(path: &Path, opts: &ReadOptions, target: u64) -> Vec<Split> {
    plan_chunks(&[path.display().to_string()], opts, target).unwrap()
}

/// The whole file as one split, the reference.
fn whole(path: &Path, opts: &ReadOptions) -> Read {
    read_path(path, opts).unwrap()
}

/// Checks chunked reading of `text` against a whole-file read for each
/// target; returns the passes each took.
fn check(name: &str, text: &[u8], targets: &[u64]) -> Vec<usize> {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, text);
    let opts = ReadOptions::default();
    let expected = whole(&path, &opts);
    let mut passes = Vec::new();
    for &target in targets {
        let splits = chunks(&path, &opts, target);
        let mut at = None;
        for s in &splits {
            let SplitRange::Chunk { start, end, .. } = s.range else {
                panic!("not a chunk: {s:?}")
            };
            assert!(at.is_none_or(|prev| prev == start), "{splits:?}");
            at = Some(end);
        }
        assert_eq!(at, Some(text.len() as u64));
        let (read, pass) = read_chunked(splits, &opts).unwrap();
        assert_eq!(read, expected, "{name}, target {target}");
        passes.push(pass);
    }
    passes
}

const TARGETS: [u64; 8] = [1, 2, 3, 7, 16, 50, 333, 4096];

#[test]
fn quoted_newlines_and_commas_across_chunk_edges() {
    let mut text = String::from("user_id,ts,event,item\n");
    for n in 0..60 {
        text.push_str(&format!("u{n},{n},view,\"it\nem, \"\"{n}\"\"\n\"\n"));
        text.push_str(&format!("\"u\"\"{n}\",{n},cart,x\n"));
    }
    check("q.csv", text.as_bytes(), &TARGETS);
}

#[test]
fn crlf_lines_cut_between_cr_and_lf() {
    let mut text = String::from("user_id,ts,event,item\r\n");
    for n in 0..80 {
        text.push_str(&format!("u{n},{n},view,i{n}\r\n"));
        if n % 9 == 0 {
            text.push_str(&format!("u{n},bad,view,\"a\r\nb\"\r\n\r\n"));
        }
    }
    check("crlf.csv", text.as_bytes(), &TARGETS);
}

#[test]
fn a_record_longer_than_many_chunks() {
    let long: String = (0..2000).map(|i| format!("w{i}, \"\"x\"\"\n")).collect();
    let text = format!(
        "user_id,ts,event,item\nu1,1,view,a\nu2,2,view,\"{long}\"\nu3,3,view,c\nu4,bad,view,d\n"
    );
    check("long.csv", text.as_bytes(), &[100, 1000, 7000]);
}

#[test]
fn empty_chunks_and_tiny_files() {
    check("h.csv", b"user_id,ts,event\n", &[1, 5]);
    check("one.csv", b"user_id,ts,event\nu1,1,view", &[1, 2, 100]);
    check(
        "blank.csv",
        b"user_id,ts,event\n\n\n\nu1,1,view\n\n",
        &[1, 3],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "h.csv", b"user_id,ts,event\n");
    let splits = chunks(&path, &ReadOptions::default(), 1);
    assert_eq!(splits.len(), 1, "a header-only file is one empty chunk");
}

#[test]
fn rejections_name_exact_file_lines_after_chunked_planning() {
    let mut text = String::from("user_id,ts,event,item\n");
    let mut bad = Vec::new();
    let mut line = 2;
    for n in 0..300u64 {
        if n % 37 == 5 {
            text.push_str(&format!("u{n},\"not\na time\",view,x\n"));
            bad.push(line);
            line += 2;
        } else {
            text.push_str(&format!("u{n},{n},view,item-{n}\n"));
            line += 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "lines.csv", text.as_bytes());
    let opts = ReadOptions::default();
    for target in [64, 500, 5000] {
        let (read, _) = read_chunked(chunks(&path, &opts, target), &opts).unwrap();
        assert_eq!(read.rejected, bad.len() as u64);
        assert_eq!(reject_lines(&read), bad, "target {target}");
        assert!(read.rejects.iter().all(|r| r.file.ends_with("lines.csv")));
    }
}

#[test]
fn a_wrong_quote_guess_is_found_and_read_again() {
    // A quoted field of many plain lines: a chunk starting inside it sees
    // no decisive quote and guesses "not quoted", wrongly.
    let inner: String = (0..400).map(|i| format!("plain text line {i}\n")).collect();
    let text = format!("user_id,ts,event,item\nu1,1,view,\"{inner}\"\nu2,2,view,a\nu3,x,view,b\n");
    let passes = check("guess.csv", text.as_bytes(), &[500, 2000]);
    assert!(passes.contains(&2), "expected a second pass: {passes:?}");
}

#[test]
fn stray_quotes_keep_whole_file_semantics() {
    // A quote inside an unquoted field flips the parity for everything
    // after it, exactly as a whole-file read sees it.
    let mut text = String::from("user_id,ts,event,item\n");
    for n in 0..120 {
        let item = if n == 17 || n == 70 { "a\"b" } else { "ok" };
        text.push_str(&format!("u{n},{n},view,{item}\n"));
    }
    check("stray.csv", text.as_bytes(), &[40, 300, 1000]);
}

#[test]
fn json_lines_in_chunks() {
    let mut text = String::new();
    for n in 0..200 {
        match n % 13 {
            3 => text.push_str("{\"user_id\": \"u\", \"ts\": \"soon\", \"event\": \"view\"}\n"),
            7 => text.push_str("not json\n\n"),
            _ => text.push_str(&format!(
                "{{\"user_id\":\"u{n}\",\"ts\":{n},\"event\":\"view\",\"item\":\"a\\nb\"}}\n"
            )),
        }
    }
    check("e.jsonl", text.as_bytes(), &[1, 30, 256, 4096]);
}

#[test]
fn strict_mode_names_the_file_line_from_any_chunk() {
    let mut text = String::from("user_id,ts,event\n");
    for n in 0..500 {
        let ts = if n == 420 {
            "bad".to_string()
        } else {
            n.to_string()
        };
        text.push_str(&format!("\"u{n}\",{ts},\"vi\new\"\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.csv", text.as_bytes());
    let opts = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    let err = read_chunked(chunks(&path, &opts, 300), &opts).unwrap_err();
    assert!(matches!(err, InputError::BadRow { line: 842, .. }), "{err}");
}

#[test]
fn strict_mode_is_not_fooled_by_a_wrong_guess() {
    // Inside the long quoted field a chunk guesses wrong and sees bad rows
    // that are not the file's; the true reading has none.
    let inner: String = (0..300).map(|i| format!("u{i},x,view\n")).collect();
    let text = format!("user_id,ts,event\nu1,1,\"{inner}\"\nu2,2,view\n");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "w.csv", text.as_bytes());
    let opts = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    let (read, passes) = read_chunked(chunks(&path, &opts, 400), &opts).unwrap();
    assert_eq!(read, whole(&path, &opts));
    assert_eq!(passes, 2);
}

/// One CSV row of a random kind.
fn row_text(kind: u8, n: usize) -> String {
    match kind % 10 {
        0 => format!("u{n},{n},view,\"it\nem,{n}\"\n"),
        1 => format!("\"u\"\"{n}\",{n},cart,x\r\n"),
        2 => format!("u{n},bad,view,x\n"),
        3 => format!(",{n},view,x\n"),
        4 => format!("u{n},{n},view\n"),
        5 => "\n".to_string(),
        6 => format!("u{n},{n},view,\"{}\"\n", "long\n".repeat(n % 40)),
        7 => format!("u{n},{n},view,a\"b\n"),
        _ => format!("u{n},{n},view,item-{n}\n"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn chunked_reading_equals_a_whole_file_read(
        kinds in proptest::collection::vec(0u8..10, 0..120),
        target in 1u64..600,
    ) {
        let mut text = String::from("user_id,ts,event,item\n");
        for (n, k) in kinds.iter().enumerate() {
            text.push_str(&row_text(*k, n));
        }
        check("p.csv", text.as_bytes(), &[target]);
    }
}

#[test]
fn chunks_of_objects_in_a_store_read_like_local_files() {
    let mut text = String::from("user_id,ts,event,item\n");
    for n in 0..3000 {
        match n % 17 {
            3 => text.push_str(&format!("u{n},late,view,\"x\ny\"\n")),
            _ => text.push_str(&format!("\"u{n}\",{n},view,\"it, \"\"{n}\"\"\"\n")),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "local.csv", text.as_bytes());
    let opts = ReadOptions::default();
    let expected = whole(&path, &opts);
    let base = format!("memory://chunks-{}", std::process::id());
    let store = shoal_store::Store::open(&base).unwrap();
    store.put("ev/a.csv", bytes::Bytes::from(text)).unwrap();
    let url = format!("{base}/ev/a.csv");
    for target in [1000, 64 << 10] {
        let splits = plan_chunks(std::slice::from_ref(&url), &opts, target).unwrap();
        assert!(splits.len() > 1);
        let (read, _) = read_chunked(splits, &opts).unwrap();
        assert_eq!(read.rows, expected.rows);
        assert_eq!(read.rejected, expected.rejected);
        let lines = |r: &Read| -> Vec<(u64, String)> {
            r.rejects
                .iter()
                .map(|x| (x.line, x.reason.clone()))
                .collect()
        };
        assert_eq!(lines(&read), lines(&expected));
        assert!(read.rejects.iter().all(|r| r.file == url));
    }
}

#[test]
fn store_chunks_know_the_file_size_and_finish_long_last_records() {
    // Records longer than the 64 KiB a chunk reads past its end, so a last
    // record continues from the chunk's own read into further windows.
    let long: String = (0..12_000).map(|i| format!("w{i}, \"\"x\"\"\n")).collect();
    let mut text = String::from("user_id,ts,event,item\n");
    for n in 0..40 {
        text.push_str(&format!("u{n},{n},view,i{n}\n"));
        if n % 10 == 0 {
            text.push_str(&format!("u{n},{n},view,\"{long}\"\nu{n},bad,view,x\n"));
        }
    }
    assert!(long.len() > 2 * (64 << 10));
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "local.csv", text.as_bytes());
    let opts = ReadOptions::default();
    // What was read, with rejections by line (their file names differ).
    let seen = |r: Read| {
        let lines: Vec<_> = r
            .rejects
            .iter()
            .map(|x| (x.line, x.reason.clone()))
            .collect();
        (r.rows, r.rejected, lines)
    };
    let want = seen(whole(&path, &opts));
    assert!(want.1 > 0, "the file has bad rows");
    let base = format!("memory://sized-{}", std::process::id());
    let store = shoal_store::Store::open(&base).unwrap();
    store
        .put("ev/a.csv", bytes::Bytes::from(text.clone()))
        .unwrap();
    let url = format!("{base}/ev/a.csv");
    for target in [5000, 100_000] {
        let mut splits = plan_chunks(std::slice::from_ref(&url), &opts, target).unwrap();
        assert!(splits.len() > 2);
        for split in &splits {
            let SplitRange::Chunk { file_size, .. } = split.range else {
                panic!("not a chunk: {split:?}")
            };
            assert_eq!(file_size, Some(text.len() as u64));
        }
        let (read, _) = read_chunked(splits.clone(), &opts).unwrap();
        assert_eq!(seen(read), want, "target {target}");
        // Without the planned size (an older driver) the reader asks.
        for split in &mut splits {
            if let SplitRange::Chunk { file_size, .. } = &mut split.range {
                *file_size = None;
            }
        }
        let (read, _) = read_chunked(splits, &opts).unwrap();
        assert_eq!(seen(read), want);
    }
    // An object that shrank after planning fails; it is never read short.
    let splits = plan_chunks(std::slice::from_ref(&url), &opts, 5000).unwrap();
    store
        .put(
            "ev/a.csv",
            bytes::Bytes::from(text[..text.len() / 2].to_string()),
        )
        .unwrap();
    let last = splits.last().unwrap();
    let err = read_one(last, &opts).unwrap_err();
    assert!(err.to_string().contains("a.csv"), "{err}");
}
