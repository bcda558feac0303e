//! The instruments: every metric's name, unit, description and buckets, built once per process.

use std::sync::Mutex;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::Registry;

use super::gauges::register_process_metrics;
use super::{Metrics, Telemetry};
use crate::telemetry::operation_names::OperationNames;

pub(super) const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
pub(super) fn build() -> Option<Telemetry> {
    let registry = Registry::new();
    let exporter = match opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .without_target_info()
        .build()
    {
        Ok(exporter) => exporter,
        Err(err) => {
            tracing::error!(error = %err, "metrics are disabled: the Prometheus exporter did not start");
            return None;
        }
    };
    let provider = SdkMeterProvider::builder().with_reader(exporter).build();
    let meter = provider.meter("board");
    let seconds = |name: &'static str, description: &'static str| {
        meter
            .f64_histogram(name)
            .with_unit("s")
            .with_description(description)
            .with_boundaries(SECONDS_BUCKETS.to_vec())
            .build()
    };
    let metrics = Metrics {
        http_duration: seconds(
            "http.server.request.duration",
            "Duration of HTTP server requests.",
        ),
        graphql_duration: seconds(
            "board.graphql.operation.duration",
            "Duration of GraphQL operations.",
        ),
        graphql_operations: meter
            .u64_counter("board.graphql.operations")
            .with_description("GraphQL operations by name, type and outcome (ok or an error code).")
            .build(),
        cache_requests: meter
            .u64_counter("board.cache.requests")
            .with_description("Cache lookups by cache and result (hit, miss, error).")
            .build(),
        db_round_trips: meter
            .u64_histogram("board.db.round_trips")
            .with_description("Database round trips per GraphQL request.")
            .with_boundaries(vec![
                0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 50.0,
            ])
            .build(),
        db_query_duration: seconds(
            "board.db.query.duration",
            "Duration of database round trips.",
        ),
        logins: meter
            .u64_counter("board.auth.logins")
            .with_description("Login attempts by outcome.")
            .build(),
        token_refreshes: meter
            .u64_counter("board.auth.token_refreshes")
            .with_description("Refresh-token rotations by outcome.")
            .build(),
        moderation_actions: meter
            .u64_counter("board.moderation.actions")
            .with_description(
                "Moderation steps by action: category bans and unbans, reports opened, dismissed, resolved.",
            )
            .build(),
        rate_limited: meter
            .u64_counter("board.rate_limited")
            .with_description("Requests refused by a rate limit, by limit.")
            .build(),
        limiter_fallbacks: meter
            .u64_counter("board.limiter.fallbacks")
            .with_description(
                "Attempts counted by this process's own limiter because the shared counters failed or refused, by limit.",
            )
            .build(),
        counters_settled: meter
            .u64_counter("board.counters.settled")
            .with_description(
                "Kept counters found apart from their rows after a write and set to them, by counter (Galera's lost updates).",
            )
            .build(),
        cache_primary_changes: meter
            .u64_counter("board.cache.primary_changes")
            .with_description(
                "New Redis primaries met (a failover or a restart): cached values start afresh in a namespace of the new primary.",
            )
            .build(),
        log_lines_dropped: meter
            .u64_counter("board.log.lines_dropped")
            .with_description(
                "Log lines not shipped (the shipping buffer was full or the sink unreachable).",
            )
            .build(),
        trace_export_failures: meter
            .u64_counter("board.trace.export_failures")
            .with_description("Spans lost because their OTLP export failed.")
            .build(),
        db_reads: meter
            .u64_counter("board.db.routed_reads")
            .with_description(
                "Reads that could use the read replica, by where they went (replica, primary, fallback: \
                 the replica failed and the primary answered).",
            )
            .build(),
        near_hits: meter
            .u64_counter("board.cache.near_hits")
            .with_description(
                "Cache hits answered by the in-process near cache, by cache (also counted as hits in \
                 board_cache_requests_total).",
            )
            .build(),
        sync_rounds: meter
            .u64_counter("board.cache.sync_rounds")
            .with_description(
                "Sync rounds of the near cache (a marker published and heard back), by outcome; each serves \
                 every request that was waiting for it.",
            )
            .build(),
        search_plans: meter
            .u64_counter("board.search.plans")
            .with_description(
                "Search queries (pages and counts) by plan: walk (the list's order, filtered) or index (the \
                 full-text index's candidates, filtered).",
            )
            .build(),
        moderation_removals: meter
            .u64_counter("board.moderation.removals")
            .with_description(
                "Posts and comments removed or restored by moderators, by subject (post, comment) and action (remove, restore).",
            )
            .build(),
        events_published: meter
            .u64_counter("board.events.published")
            .with_description("Board events published after a commit, by kind and outcome (ok, error).")
            .build(),
        events_delivered: meter
            .u64_counter("board.subscriptions.delivered")
            .with_description("Subscription events sent to a client, by subscription field.")
            .build(),
        events_dropped: meter
            .u64_counter("board.subscriptions.dropped")
            .with_description(
                "Subscription deliveries lost, by reason: slow_subscriber (its buffer was full: the socket is closed), lagged (this process fell behind the event feed), unresolved (the entity could not be read).",
            )
            .build(),
        event_resolutions: meter
            .u64_counter("board.subscriptions.resolutions")
            .with_description(
                "Events resolved for this process's subscribers: once per event and process, however many subscribers hear it.",
            )
            .build(),
        event_round_trips: meter
            .u64_counter("board.subscriptions.resolution_round_trips")
            .with_description("Round trips of those resolutions, by store (db, cache).")
            .build(),
        ws_connections: meter
            .i64_up_down_counter("board.subscriptions.connections")
            .with_description("Open graphql-ws connections.")
            .build(),
        subscriptions: meter
            .i64_up_down_counter("board.subscriptions.active")
            .with_description("Active subscriptions, by field.")
            .build(),
        reports_open: meter
            .i64_gauge("board.reports.open")
            .with_description(
                "Open reports waiting for a moderator, the whole board, counted every 30 s and after each report or resolution.",
            )
            .build(),
        bans_active: meter
            .i64_gauge("board.bans.active")
            .with_description(
                "Bans in force on the whole board, by scope: category bans and board-wide blocks; counted with the open reports.",
            )
            .build(),
        notifications_created: meter
            .u64_counter("board.notifications.created")
            .with_description("Notifications written, by kind.")
            .build(),
        notification_fanout: meter
            .u64_histogram("board.notifications.fanout.recipients")
            .with_description(
                "Members one write notified (mentions, replies and watchers), by source.",
            )
            .with_boundaries(vec![
                0.0, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 50000.0,
            ])
            .build(),
        notification_fanout_duration: seconds(
            "board.notifications.fanout.duration",
            "Time to fan one outbox entry out, by source.",
        ),
        outbox_failures: meter
            .u64_counter("board.notifications.outbox.failures")
            .with_description(
                "Fan-outs that failed, by outcome: retry (claimed again later) or gave_up.",
            )
            .build(),
        notifications_expired: meter
            .u64_counter("board.notifications.expired")
            .with_description("Read notifications deleted after notification_read_ttl_days.")
            .build(),
        operation_names: Mutex::new(OperationNames::default()),
    };
    metrics.ws_connections.add(0, &[]);
    for field in [
        "postAdded",
        "commentAdded",
        "postUpdated",
        "reportAdded",
        "notificationAdded",
    ] {
        metrics
            .subscriptions
            .add(0, &[KeyValue::new("field", field)]);
        metrics
            .events_delivered
            .add(0, &[KeyValue::new("field", field)]);
    }
    for reason in ["slow_subscriber", "lagged", "unresolved"] {
        metrics
            .events_dropped
            .add(0, &[KeyValue::new("reason", reason)]);
    }
    for kind in crate::domain::EventKind::ALL {
        for outcome in ["ok", "error"] {
            metrics.events_published.add(
                0,
                &[
                    KeyValue::new("kind", kind.as_str()),
                    KeyValue::new("outcome", outcome),
                ],
            );
        }
    }
    for subject in ["post", "comment"] {
        for action in ["remove", "restore"] {
            metrics.moderation_removals.add(
                0,
                &[
                    KeyValue::new("subject", subject),
                    KeyValue::new("action", action),
                ],
            );
        }
    }
    metrics.event_resolutions.add(0, &[]);
    for store in ["db", "cache"] {
        metrics
            .event_round_trips
            .add(0, &[KeyValue::new("store", store)]);
    }
    // Counters appear in the exposition once touched: start the ones that are often zero at zero.
    metrics
        .rate_limited
        .add(0, &[KeyValue::new("limit", "login")]);
    metrics.log_lines_dropped.add(0, &[]);
    metrics.cache_primary_changes.add(0, &[]);
    metrics.trace_export_failures.add(0, &[]);
    for limit in [
        "guess_account",
        "guess_client",
        "points_member",
        "points_client",
    ] {
        metrics
            .limiter_fallbacks
            .add(0, &[KeyValue::new("limit", limit)]);
    }
    for counter in [
        "post.vote_count",
        "comment.vote_count",
        "post.comment_count",
        "post.top_comment_count",
        "comment.reply_count",
        "user.comment_count",
        "user.post_count",
        "category.post_count",
    ] {
        metrics
            .counters_settled
            .add(0, &[KeyValue::new("counter", counter)]);
    }
    for outcome in ["success", "invalid", "blocked", "rate_limited"] {
        metrics.logins.add(0, &[KeyValue::new("outcome", outcome)]);
    }
    for action in [
        "category_ban",
        "category_unban",
        "report_opened",
        "report_dismissed",
        "report_resolved",
    ] {
        metrics
            .moderation_actions
            .add(0, &[KeyValue::new("action", action)]);
    }
    register_process_metrics(&meter);
    Some(Telemetry {
        registry,
        metrics,
        meter,
        _provider: provider,
    })
}
