//! The store conformance suite.
//!
//! Each scenario is a public async function over `&dyn Store`, written once and run against
//! every backend through [`conformance_tests!`]. A backend passes when every scenario passes;
//! the scenarios are the executable form of the contract documented on [`moose_store::Store`].
//!
//! Scenarios only touch partitions under a fresh random prefix, so they can share one table
//! (as they must on DynamoDB, where creating a table per test would be slow).

mod scenarios;

pub use scenarios::*;

/// Generates one `#[tokio::test]` per scenario.
///
/// `$make` is an async expression evaluating to `(Arc<dyn Store>, guard)`; the guard is kept
/// alive for the duration of the test (a temporary directory, a table cleaner, …).
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            put_then_get_round_trips,
            get_missing_is_none,
            batch_get_answers_in_key_order,
            put_replaces_existing,
            create_only_put_conflicts,
            exists_condition_on_missing_is_not_found,
            attribute_equals_guards_updates,
            delete_and_conditional_delete,
            query_prefix_in_order_both_directions,
            query_sort_conditions,
            query_pages_cover_everything_once,
            scan_pages_cover_everything_once,
            gsi1_query_is_sparse_and_ordered,
            batch_write_many_and_mixed,
            batch_rejects_duplicate_keys,
            transaction_is_all_or_nothing,
            transaction_limits,
            invalid_items_are_rejected,
            concurrent_create_only_one_wins,
            ping_succeeds
        );
    };
    (@each $make:expr; $($name:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make.await;
                $crate::$name(&*store).await;
            }
        )+
    };
}
