//! Decoding Redis stream replies (RESP2 arrays or RESP3 maps alike).

use redis::Value;

use crate::ClusterError;

/// One stream entry: its id and field/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Stream entry id, e.g. `1700000000000-0`.
    pub id: String,
    /// Field/value pairs in order; values are binary-safe (a task's
    /// inline result travels as one).
    pub fields: Vec<(String, Vec<u8>)>,
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// [`text`], moving the bytes out instead of copying them (replies of
/// stream reads carry every task and report: one copy less of each field).
fn into_text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        Value::SimpleString(s) => Some(s),
        Value::VerbatimString { text, .. } => Some(text),
        other => text(&other),
    }
}

/// A binary-safe value, moved out.
fn into_binary(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        other => into_text(other).map(String::into_bytes),
    }
}

fn items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items.iter().collect(),
        Value::Map(pairs) => pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    }
}

/// [`items`], moved out.
fn into_items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) | Value::Set(items) => items,
        Value::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => Vec::new(),
    }
}

fn bad(op: &'static str, detail: &str) -> ClusterError {
    ClusterError::Protocol {
        op,
        detail: detail.to_string(),
    }
}

/// The entries an XREAD / XREADGROUP reply holds for one of its streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntries {
    /// The stream's key.
    pub key: String,
    /// Its entries, oldest first.
    pub entries: Vec<Entry>,
}

/// An XREAD / XREADGROUP reply, stream by stream (consumed: the fields
/// are moved into the entries, not copied).
pub fn stream_batches(op: &'static str, reply: Value) -> Result<Vec<StreamEntries>, ClusterError> {
    let streams: Vec<(Value, Value)> = match reply {
        Value::Nil => return Ok(Vec::new()),
        // RESP3: {key: entries, ...}
        Value::Map(pairs) => pairs,
        // RESP2: [[key, entries], ...]
        Value::Array(streams) => streams
            .into_iter()
            .map(|s| {
                let mut parts = into_items(s).into_iter();
                match (parts.next(), parts.next()) {
                    (Some(key), Some(entries)) => Ok((key, entries)),
                    _ => Err(bad(op, "stream without entries")),
                }
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad(op, "not a stream reply")),
    };
    streams
        .into_iter()
        .map(|(key, entries)| {
            Ok(StreamEntries {
                key: into_text(key).ok_or_else(|| bad(op, "stream without a key"))?,
                entries: range_entries(op, entries)?,
            })
        })
        .collect()
}

/// Every entry of an XREAD / XREADGROUP reply, across its streams.
pub fn stream_entries(op: &'static str, reply: Value) -> Result<Vec<Entry>, ClusterError> {
    let batches = stream_batches(op, reply)?;
    Ok(batches.into_iter().flat_map(|b| b.entries).collect())
}

/// The entries of an XRANGE reply (also one stream's part of an XREAD),
/// consumed.
pub fn range_entries(op: &'static str, reply: Value) -> Result<Vec<Entry>, ClusterError> {
    into_items(reply)
        .into_iter()
        .map(|entry| {
            let mut parts = into_items(entry).into_iter();
            let id = parts
                .next()
                .and_then(into_text)
                .ok_or_else(|| bad(op, "entry without id"))?;
            // A deleted entry still pending in a group comes back with nil fields.
            let mut raw = parts.next().map(into_items).unwrap_or_default().into_iter();
            let mut fields = Vec::with_capacity(raw.len() / 2);
            while let (Some(k), Some(v)) = (raw.next(), raw.next()) {
                if let (Some(k), Some(v)) = (into_text(k), into_binary(v)) {
                    fields.push((k, v));
                }
            }
            Ok(Entry { id, fields })
        })
        .collect()
}

/// `XPENDING key group` summary: consumer names with pending counts.
pub fn pending_consumers(reply: &Value) -> Vec<(String, u64)> {
    let parts = items(reply);
    let Some(consumers) = parts.get(3) else {
        return Vec::new();
    };
    items(consumers)
        .into_iter()
        .filter_map(|c| {
            let pair = items(c);
            let name = text(pair.first()?)?;
            let count = text(pair.get(1)?)?.parse().ok()?;
            Some((name, count))
        })
        .collect()
}

/// `XPENDING key group - + count consumer`: the pending entry ids.
pub fn pending_ids(reply: &Value) -> Vec<String> {
    items(reply)
        .into_iter()
        .filter_map(|e| text(items(e).first()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn decodes_resp2_and_resp3_stream_replies() {
        let entries = Value::Array(vec![Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![bulk("j"), bulk("job-1"), bulk("p"), bulk("7")]),
        ])]);
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("shoal:tasks"),
            entries.clone(),
        ])]);
        let resp3 = Value::Map(vec![(bulk("shoal:tasks"), entries)]);
        for reply in [resp2, resp3] {
            let got = stream_batches("XREAD", reply).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].key, "shoal:tasks");
            let entries = &got[0].entries;
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].id, "1-0");
            assert_eq!(
                entries[0].fields,
                vec![("j".into(), b"job-1".to_vec()), ("p".into(), b"7".to_vec())]
            );
        }
        assert!(stream_entries("XREAD", Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn keeps_binary_values_intact() {
        let blob = vec![0u8, 0xff, 0xfe, b'\n'];
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("k"),
            Value::Array(vec![Value::Array(vec![
                bulk("2-0"),
                Value::Array(vec![bulk("r"), Value::BulkString(blob.clone())]),
            ])]),
        ])]);
        let got = stream_entries("XREAD", reply).unwrap();
        assert_eq!(got[0].fields, vec![("r".to_string(), blob)]);
    }

    #[test]
    fn decodes_pending_summaries() {
        let reply = Value::Array(vec![
            Value::Int(3),
            bulk("1-0"),
            bulk("3-0"),
            Value::Array(vec![Value::Array(vec![bulk("w1"), bulk("2")])]),
        ]);
        assert_eq!(pending_consumers(&reply), vec![("w1".to_string(), 2)]);
    }
}
