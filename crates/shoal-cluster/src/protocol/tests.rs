//! Every message survives encode → decode, unknown fields are ignored, and
//! a bad entry is named in its error.

use shoal_core::{Bytes, TaskErrorKind};

use super::*;

fn entry(id: &str, encode: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Entry {
    let mut fields = Vec::new();
    encode(&mut fields);
    Entry {
        id: id.to_string(),
        fields,
    }
}

const TASK: TaskRef = TaskRef {
    stage: 2,
    partition: 17,
    attempt: 1,
};

fn report(outcome: Outcome) -> Event {
    Event::Report(Report {
        task: TASK,
        worker: "w-1".into(),
        started_us: 1_700_000_000_000_000,
        ended_us: 1_700_000_000_000_250,
        outcome,
    })
}

#[test]
fn a_task_entry_round_trips() {
    let sent = TaskEntry {
        job_id: "noop-18c2f0a4b1d3".into(),
        task: TASK,
    };
    let got = TaskEntry::decode("shoal:tasks:noop@1", &entry("1-0", |f| sent.encode(f)));
    assert_eq!(got.unwrap(), sent);
}

#[test]
fn every_event_round_trips_with_binary_results_intact() {
    let events = [
        Event::Start,
        report(Outcome::Done {
            rows: 10,
            bytes: 2048,
            stored_bytes: 0,
            result: Some(Bytes::from_static(&[0, 0xff, b'\n', 0xfe])),
        }),
        report(Outcome::Done {
            rows: 0,
            bytes: 0,
            stored_bytes: 0,
            result: None,
        }),
        report(Outcome::Done {
            rows: 3,
            bytes: 300,
            stored_bytes: 1 << 40,
            result: None,
        }),
        report(Outcome::Failed {
            kind: TaskErrorKind::Input,
            message: "bad row at a.csv:3".into(),
        }),
        report(Outcome::Failed {
            kind: TaskErrorKind::Fatal,
            message: String::new(),
        }),
        report(Outcome::Skipped),
    ];
    for sent in events {
        let got = Event::decode("events", entry("5-1", |f| sent.encode(f))).unwrap();
        assert_eq!(got, sent);
    }
}

#[test]
fn a_done_report_sends_no_zero_counts_and_sizes_its_output() {
    let tiny = report(Outcome::Done {
        rows: 0,
        bytes: 0,
        stored_bytes: 0,
        result: Some(Bytes::new()),
    });
    let fields = entry("5-2", |f| tiny.encode(f)).fields;
    let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["k", "s", "p", "a", "w", "t0", "t1", "r"]);

    let inline = Outcome::Done {
        rows: 0,
        bytes: 0,
        stored_bytes: 0,
        result: Some(Bytes::from_static(b"12345")),
    };
    assert_eq!(inline.output_bytes(), 5);
    let stored = Outcome::Done {
        rows: 0,
        bytes: 0,
        stored_bytes: 4096,
        result: None,
    };
    assert_eq!(stored.output_bytes(), 4096);
    assert_eq!(Outcome::Skipped.output_bytes(), 0);
}

#[test]
fn unknown_fields_are_ignored() {
    let sent = report(Outcome::Skipped);
    let got = Event::decode(
        "events",
        entry("5-1", |f| {
            f.field("future", "field");
            sent.encode(f);
            f.field("zz", 1u8);
        }),
    );
    assert_eq!(got.unwrap(), sent);
}

#[test]
fn a_missing_or_malformed_field_names_the_entry_and_the_field() {
    let missing = TaskEntry::decode(
        "shoal:tasks:noop@1",
        &entry("7-0", |f| {
            f.field(field::JOB, "j1");
            f.field(field::STAGE, 0u32);
            f.field(field::ATTEMPT, 0u32);
        }),
    )
    .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "bad task entry 7-0 of shoal:tasks:noop@1: field 'p' is missing"
    );
    let malformed = Event::decode(
        "shoal:job:x:events",
        entry("8-0", |f| {
            f.field(field::KIND, "done");
            f.field(field::STAGE, "two");
        }),
    )
    .unwrap_err();
    assert_eq!(
        malformed.to_string(),
        "bad event 8-0 of shoal:job:x:events: field 's' has unexpected value 'two'"
    );
    let kind = Event::decode("e", entry("9-0", |f| f.field(field::KIND, "maybe")));
    assert_eq!(
        kind.unwrap_err().problem,
        FieldProblem::Invalid("maybe".into())
    );
}

#[test]
fn one_entry_carries_many_reports_each_decoded_on_its_own() {
    let done = report(Outcome::Done {
        rows: 1,
        bytes: 2,
        stored_bytes: 0,
        result: Some(Bytes::from_static(b"kind\x00k")),
    });
    let failed = report(Outcome::Failed {
        kind: TaskErrorKind::Retryable,
        message: "k".into(),
    });
    let skipped = report(Outcome::Skipped);
    let batch = entry("10-0", |f| {
        f.field("future", "field");
        done.encode(f);
        // An unreadable report in the middle hides none of the others.
        f.field(field::KIND, "maybe");
        failed.encode(f);
        skipped.encode(f);
    });
    let got = Event::decode_all("events", batch);
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].as_ref().unwrap(), &done);
    assert_eq!(
        got[1].as_ref().unwrap_err().to_string(),
        "bad event 10-0 of events: field 'k' has unexpected value 'maybe'"
    );
    assert_eq!(got[2].as_ref().unwrap(), &failed);
    assert_eq!(got[3].as_ref().unwrap(), &skipped);

    let start = Event::decode_all("events", entry("1-0", |f| Event::Start.encode(f)));
    assert_eq!(start, [Ok(Event::Start)]);
}

#[test]
fn a_worker_registration_round_trips_and_an_old_one_offers_nothing() {
    let sent = WorkerInfo {
        host: "h1".into(),
        slots: 4,
        running: 2,
        pid: 99,
        version: "0.1.0".into(),
        beat_ms: 1_700_000_000_000,
        jobs: vec!["noop@1".into(), "odd name, with \"quotes\"@3".into()],
        load: WorkerLoad {
            done: 7,
            cpu_percent: Some(12.5),
            running_jobs: [("noop-1".to_string(), 2)].into(),
            ..WorkerLoad::default()
        },
    };
    let mut hash = Vec::new();
    sent.encode(&mut hash);
    let got = WorkerInfo::decode("shoal:worker:w1", &hash).unwrap();
    assert_eq!(got, sent);
    assert!(got.offers("noop@1") && !got.offers("noop@2"));

    hash.retain(|(k, _)| k != "jobs");
    let old = WorkerInfo::decode("shoal:worker:w1", &hash).unwrap();
    assert!(old.jobs.is_empty());

    hash.push(("jobs".into(), b"not json".to_vec()));
    let err = WorkerInfo::decode("shoal:worker:w1", &hash).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad worker registration shoal:worker:w1: field 'jobs' has unexpected value 'not json'"
    );
}
