//! CSV parsing edge cases: quoting, line endings, bad rows and their lines.

mod common;

use common::*;
use shoal_events::{ColumnMap, InputError, ReadOptions, TsUnit};

fn read_csv(text: &[u8]) -> Read {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "e.csv", text);
    read_path(&path, &ReadOptions::default()).unwrap()
}

#[test]
fn plain_rows_and_empty_item() {
    let r = read_csv(b"user_id,ts,event,item\nu1,1000,view,i1\nu2,2000,search,\n");
    assert_eq!(
        r.rows,
        vec![row("u1", 1000, "view", "i1"), row("u2", 2000, "search", "")]
    );
    assert_eq!(r.rejected, 0);
}

#[test]
fn quoted_commas_escapes_newlines_and_unicode() {
    let text = "user_id,ts,event,item\n\
                \"u,1\",1000,view,\"a \"\"quoted\"\" item\"\n\
                u2,2000,\"multi\nline\",x\n\
                \"ü🦀\",3000,view,\"\"\n\
                u4,oops,view,x\n";
    let r = read_csv(text.as_bytes());
    assert_eq!(
        r.rows,
        vec![
            row("u,1", 1000, "view", "a \"quoted\" item"),
            row("u2", 2000, "multi\nline", "x"),
            row("ü🦀", 3000, "view", ""),
        ]
    );
    // The bad row starts on physical line 6: the quoted newline counts.
    assert_eq!(reject_lines(&r), vec![6]);
    assert!(
        r.rejects[0].reason.contains("unparsable ts `oops`"),
        "{:?}",
        r.rejects
    );
}

#[test]
fn crlf_line_endings_and_missing_trailing_newline() {
    let r = read_csv(b"user_id,ts,event,item\r\nu1,1,view,a\r\n\"u2\",2,cart,\"b\"\r\nu3,3,view,c");
    assert_eq!(
        r.rows,
        vec![
            row("u1", 1, "view", "a"),
            row("u2", 2, "cart", "b"),
            row("u3", 3, "view", "c")
        ]
    );
}

#[test]
fn bom_and_quoted_header_and_extra_columns() {
    let r = read_csv(b"\xEF\xBB\xBF\"ts\",extra,user_id,event\n5,zz,u1,view\n");
    assert_eq!(r.rows, vec![row("u1", 5, "view", "")]);
}

#[test]
fn bad_rows_are_rejected_with_file_and_line() {
    let text: &[u8] = b"user_id,ts,event,item\n\
        u1,1,view,a\n\
        u2,2,view\n\
        ,3,view,a\n\
        u4,x,view,a\n\
        u5,5,vi\xFFew,a\n\
        u6,6,view,a,extra\n\
        u7,\"7\"x,view,a\n\
        \n\
        u9,9,view,a\n";
    let r = read_csv(text);
    assert_eq!(
        r.rows,
        vec![row("u1", 1, "view", "a"), row("u9", 9, "view", "a")]
    );
    assert_eq!(r.rejected, 6);
    assert_eq!(reject_lines(&r), vec![3, 4, 5, 6, 7, 8]);
    let reasons: Vec<&str> = r.rejects.iter().map(|x| x.reason.as_str()).collect();
    assert!(reasons[0].starts_with("wrong field count: expected 4, found 3"));
    assert_eq!(reasons[1], "empty user_id");
    assert!(reasons[2].starts_with("unparsable ts"));
    assert_eq!(reasons[3], "invalid UTF-8");
    assert!(reasons[4].starts_with("wrong field count: expected 4, found 5"));
    assert!(reasons[5].starts_with("malformed quoted field"));
    assert!(r.rejects.iter().all(|x| x.file.ends_with("e.csv")));
}

#[test]
fn strict_mode_fails_on_first_bad_row_with_file_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "s.csv",
        b"user_id,ts,event\nu1,1,view\nu2,bad,view\nu3,x,view\n",
    );
    let opts = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    let err = read_path(&path, &opts).unwrap_err();
    assert!(err.is_user_input());
    let msg = err.to_string();
    assert!(msg.contains("s.csv:3: unparsable ts `bad`"), "{msg}");
    assert!(matches!(err, InputError::BadRow { line: 3, .. }));
}

#[test]
fn unterminated_quote_at_end_is_one_bad_row() {
    let r = read_csv(b"user_id,ts,event,item\nu1,1,view,a\nu2,2,view,\"open\nu3,3,view,a\n");
    assert_eq!(r.rows, vec![row("u1", 1, "view", "a")]);
    assert_eq!(reject_lines(&r), vec![3]);
    assert_eq!(r.rejects[0].reason, "unterminated quoted field");
}

#[test]
fn ts_units_and_rfc3339() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "t.csv",
        b"user_id,ts,event\nu1,1767225600,view\nu1,2026-01-01T00:00:01.5+00:00,view\nu1,-1,view\n",
    );
    let secs = ReadOptions {
        ts_unit: TsUnit::S,
        ..ReadOptions::default()
    };
    let r = read_path(&path, &secs).unwrap();
    let ts: Vec<i64> = r.rows.iter().map(|r| r.1).collect();
    assert_eq!(ts, vec![1_767_225_600_000, 1_767_225_601_500, -1000]);
    let us = ReadOptions {
        ts_unit: TsUnit::Us,
        ..ReadOptions::default()
    };
    let r = read_path(&path, &us).unwrap();
    let ts: Vec<i64> = r.rows.iter().map(|r| r.1).collect();
    assert_eq!(ts, vec![1_767_225, 1_767_225_601_500, -1]);
}

#[test]
fn retailrocket_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "events.csv",
        b"timestamp,visitorid,event,itemid,transactionid\n\
          1433221332117,257597,view,355908,\n\
          1433224214164,992329,transaction,248676,4000\n",
    );
    let opts = ReadOptions {
        columns: "user_id=visitorid,ts=timestamp,item=itemid"
            .parse()
            .unwrap(),
        ..ReadOptions::default()
    };
    let r = read_path(&path, &opts).unwrap();
    assert_eq!(
        r.rows,
        vec![
            row("257597", 1433221332117, "view", "355908"),
            row("992329", 1433224214164, "transaction", "248676"),
        ]
    );
}

#[test]
fn taobao_like_columns_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "UserBehavior.csv",
        b"user_id,item_id,category_id,behavior_type,timestamp\n1,2268318,2520377,pv,1511544070\n1,2333346,2520771,buy,1511561733\n",
    );
    let opts = ReadOptions {
        columns: "ts=timestamp,event=behavior_type,item=item_id"
            .parse()
            .unwrap(),
        ts_unit: TsUnit::S,
        ..ReadOptions::default()
    };
    let r = read_path(&path, &opts).unwrap();
    assert_eq!(
        r.rows,
        vec![
            row("1", 1511544070000, "pv", "2268318"),
            row("1", 1511561733000, "buy", "2333346")
        ]
    );
}

#[test]
fn missing_mapped_column_lists_columns_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "m.csv", b"visitor,ts,event\nu1,1,view\n");
    let err = read_path(&path, &ReadOptions::default()).unwrap_err();
    assert!(err.is_user_input());
    let msg = err.to_string();
    assert!(
        msg.contains("column `user_id` (for user_id) not found; columns found: visitor, ts, event"),
        "{msg}"
    );
    // An explicitly mapped item column is required.
    let path = write(dir.path(), "n.csv", b"user_id,ts,event\nu1,1,view\n");
    let opts = ReadOptions {
        columns: "item=sku".parse().unwrap(),
        ..ReadOptions::default()
    };
    let msg = read_path(&path, &opts).unwrap_err().to_string();
    assert!(msg.contains("column `sku` (for item)"), "{msg}");
}

#[test]
fn column_map_parse_errors() {
    assert!("user_id"
        .parse::<ColumnMap>()
        .unwrap_err()
        .to_string()
        .contains("role=column"));
    assert!("who=x"
        .parse::<ColumnMap>()
        .unwrap_err()
        .to_string()
        .contains("`who`"));
    assert!("ts="
        .parse::<ColumnMap>()
        .unwrap_err()
        .to_string()
        .contains("empty column"));
    assert!("ts=a,ts=b"
        .parse::<ColumnMap>()
        .unwrap_err()
        .to_string()
        .contains("twice"));
    let map: ColumnMap = " user_id = v , ts=t ".parse().unwrap();
    assert_eq!(
        (map.user_id(), map.ts(), map.event(), map.item()),
        ("v", "t", "event", "item")
    );
    assert!(!map.item_required());
}
