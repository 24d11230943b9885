//! Parse throughput (MB/s) for generated CSV, JSONL and Parquet.
fn main() {}
