//! `cargo bench -p shoal-coord --bench embedded`: uncontended embedded
//! lock/unlock and try_lock/release cycles (target ≥ 1,000,000/s).

use criterion::{criterion_group, criterion_main, Criterion};
use shoal_coord::{Coordinator, LockOptions};

fn lock_unlock(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let coord = Coordinator::embedded();
    let opts = LockOptions::default();
    c.bench_function("embedded lock+unlock", |b| {
        b.iter(|| runtime.block_on(async { drop(coord.lock("hot", &opts).await.expect("lock")) }))
    });
    c.bench_function("embedded counter_add", |b| {
        b.iter(|| runtime.block_on(coord.counter_add("n", 1)).expect("add"))
    });
}

criterion_group!(benches, lock_unlock);
criterion_main!(benches);
