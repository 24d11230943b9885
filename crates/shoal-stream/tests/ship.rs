//! Shipped files: fetched and checksummed once per process and job, then
//! linked into every task directory with their mode; a source that changed
//! after the job started is refused.

use std::os::unix::fs::PermissionsExt;

use shoal_stream::ship::{place, ShippedFile};

#[test]
fn a_job_fetches_each_file_once_and_a_changed_source_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let source = tmp.path().join("run.sh");
    std::fs::write(&source, "echo one\n").unwrap();
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o750)).unwrap();
    let files = vec![ShippedFile::local(source.to_str().unwrap()).unwrap()];
    let root = tmp.path().join("root");
    let task = |name: &str| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    };

    let first = task("t1");
    place(&files, "job-a", &root, &first).unwrap();
    let placed = first.join("run.sh");
    assert_eq!(std::fs::read_to_string(&placed).unwrap(), "echo one\n");
    let mode = std::fs::metadata(&placed).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o750);

    // The source changes: the job's next task still gets the copy fetched
    // and verified for the first (no second fetch) ...
    std::fs::write(&source, "echo two\n").unwrap();
    let second = task("t2");
    place(&files, "job-a", &root, &second).unwrap();
    assert_eq!(
        std::fs::read_to_string(second.join("run.sh")).unwrap(),
        "echo one\n"
    );
    // ... while another job, fetching it afresh, sees the checksum differ.
    let err = place(&files, "job-b", &root, &task("t3")).unwrap_err();
    assert!(
        err.contains("run.sh") && err.contains("checksum mismatch"),
        "{err}"
    );
}
