//! The conformance suite: every test runs against the embedded backend and
//! against a real Redis server started for it.

#[path = "../common/mod.rs"]
mod common;
mod kv;
mod locks;
mod two_trips;

#[path = "../common/bank.rs"]
mod bank;

use common::Fixture;

/// Generates `embedded::<test>` and `redis::<test>` for each suite function.
macro_rules! conformance {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$module::$test(&super::Fixture::embedded()).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$module::$test(&super::Fixture::redis().await).await;
                }
            )*
        }
    };
}

conformance! {
    locks::mutual_exclusion_16_holders,
    locks::fencing_stalled_holder,
    locks::try_lock_and_owner_only_release,
    locks::renewal_keeps_the_lease,
    locks::renewal_keeps_many_leases,
    locks::waiters_are_woken_promptly,
    locks::semaphore_limits_holders,
    locks::rwlock_excludes_writers,
    locks::bad_input_is_refused,
    kv::counters_are_atomic,
    kv::versioned_kv,
    kv::key_ttl_expires,
    kv::put_fenced_refuses_stale_tokens,
    kv::transaction_conflicts_give_up,
    kv::transaction_retry_sees_the_new_values,
    kv::transaction_aborts_on_consistent_reads,
    kv::get_many_reads_keys_in_order,
    two_trips::lock_and_get_then_set_and_unlock,
    two_trips::set_and_unlock_refuses_a_lost_lease,
    two_trips::set_and_unlock_respects_newer_fences,
    two_trips::two_trip_mutual_exclusion,
    two_trips::two_trip_bad_input,
    bank::bank_transfers_preserve_money,
}
