//! Hostile input: generated and hand-written GraphQL documents, variables and raw bodies thrown at a real
//! server over HTTP. Whatever comes in, the server must answer without a 5xx, with a JSON body, with every
//! error carrying a documented `extensions.code` other than `INTERNAL`, and must stay healthy.
//!
//! The generated cases come from proptest strategies driven by hand (`TestRunner` + `new_tree`) from an
//! async loop; the first failing case of each strategy is shrunk the same way before it is reported.
//! The server runs on a tokio runtime of its own and the cases are sent from another, so a request that
//! keeps a server worker busy cannot stall the client's timeouts, and the test can end without waiting
//! for it. Each variant runs in a process of its own: a stack overflow in the server aborts that process,
//! and a case may leave a server worker busy after the test. Every failure is printed the moment it is
//! seen, since an abort shows no captured output; the cases most likely to do that run last.
//!
//! `HOSTILE_SEED=<n>` replays a run (the seed is printed), `HOSTILE_ONLY=<phase>` runs only the phases
//! whose name contains it, `HOSTILE_VERBOSE=1` prints every case.

mod breadth;
mod cases;
mod damaged;
mod hand_written;
mod nesting;
mod raw_http;
mod sending;
mod strategies;
mod suite;
mod vocabulary;

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, TestApp, own_process};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::{BoxedStrategy, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use breadth::*;
use cases::*;
use damaged::*;
use hand_written::*;
use nesting::*;
use raw_http::*;
use sending::*;
use strategies::*;
use suite::*;
use vocabulary::*;

/// The codes an error may carry; `INTERNAL` is deliberately absent.
const ALLOWED_CODES: [&str; 11] = [
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "RATE_LIMITED",
    "QUERY_TOO_COMPLEX",
    "PAYLOAD_TOO_LARGE",
    "SERVICE_UNAVAILABLE",
    // Persisted operations: a hash the server does not know (the client retries with the text), and a text
    // that trusted-documents mode does not list.
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_NOT_ALLOWED",
];

const MIB: usize = 1024 * 1024;
/// Longer than any request should take; a request that needs more counts as a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const HEALTH_EVERY: usize = 50;
/// Answers slower than this are listed (they are not failures).
const SLOW: Duration = Duration::from_secs(2);
/// Shrinking stops after this many steps or this long.
const SHRINK_STEPS: usize = 64;
const SHRINK_TIME: Duration = Duration::from_secs(20);

/// Straight to stderr, past libtest's capture: a stack overflow in the server aborts the process before
/// any captured output is shown.
fn uncaptured(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `HOSTILE_VERBOSE=1` prints every case (hand-written ones with their duration).
fn verbose() -> bool {
    std::env::var_os("HOSTILE_VERBOSE").is_some()
}

/// `HOSTILE_ONLY=<name>` runs only the phases whose name contains it (`hand-written`, `raw HTTP`, or a
/// strategy such as `deep nesting`).
fn selected(phase: &str) -> bool {
    std::env::var("HOSTILE_ONLY").map_or(true, |only| phase.contains(only.as_str()))
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn seed() -> u64 {
    std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            let uuid = uuid::Uuid::new_v4();
            let bytes = uuid.as_bytes();
            u64::from_le_bytes(bytes[..8].try_into().unwrap())
        })
}

/// Starts a server for `backend` on a runtime of its own and sends every case from another one.
fn run(backend: Backend) {
    let started = Instant::now();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("hostile-server")
        .enable_all()
        .build()
        .unwrap();
    let app = server.block_on(TestApp::spawn(backend));
    let fx = server.block_on(Fixture::new(&app));
    let target = Target {
        base: app.base.clone(),
        client: reqwest::Client::new(),
    };
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let suite = client.block_on(run_suite(backend, target, fx));
    {
        let _runtime = server.enter();
        drop(app);
    }
    // A case may still be burning a server worker: do not wait for it.
    server.shutdown_background();
    eprintln!(
        "hostile input on {backend:?}, answers seen: {:?}",
        suite.tally
    );
    for slow in &suite.slow {
        eprintln!("  slow (answered, over {SLOW:?}): {slow}");
    }
    eprintln!(
        "hostile input on {backend:?}: {} cases ({} hand-written, {} raw HTTP, {} generated), {} health checks, {} failures, {:.1} s",
        suite.cases,
        suite.hand_written,
        suite.raw_http,
        suite.generated,
        suite.health_checks,
        suite.failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        suite.failures.is_empty(),
        "{} of {} hostile cases on {backend:?} were mishandled (seed {}):\n\n{}",
        suite.failures.len(),
        suite.cases,
        suite.seed,
        suite.failures.join("\n\n")
    );
}

async fn run_suite(backend: Backend, target: Target, fx: Fixture) -> Suite {
    let seed = seed();
    uncaptured(&format!(
        "hostile input on {backend:?}: seed {seed} (replay with HOSTILE_SEED={seed})"
    ));
    let mut suite = Suite {
        backend,
        target,
        fx,
        seed,
        cases: 0,
        hand_written: 0,
        generated: 0,
        raw_http: 0,
        health_checks: 0,
        failures: Vec::new(),
        tally: BTreeMap::new(),
        slow: Vec::new(),
        aborted: false,
    };
    if selected("hand-written") {
        let phase = Instant::now();
        let cases = hand_written(&suite.fx);
        suite.run_hand_written(cases, false).await;
        eprintln!(
            "  hand-written: {} cases in {:.1} s ({} cases so far)",
            suite.hand_written,
            phase.elapsed().as_secs_f64(),
            suite.cases
        );
    }
    if selected("raw HTTP") {
        let phase = Instant::now();
        let cases = raw_http_cases(&suite.fx);
        suite.run_raw(cases).await;
        eprintln!(
            "  raw HTTP: {} cases in {:.1} s ({} cases so far)",
            suite.raw_http,
            phase.elapsed().as_secs_f64(),
            suite.cases
        );
    }
    let mut strategies = strategies(&suite.fx);
    // Deep nesting after the rest: as things stand it can take the process down.
    let deep = strategies.pop();
    for (name, strategy, cases) in strategies {
        if selected(name) {
            suite.run_generated(name, strategy, cases).await;
        }
    }
    if selected("hand-written nesting") {
        let phase = Instant::now();
        let before = suite.hand_written;
        suite.run_hand_written(hand_written_nesting(), true).await;
        eprintln!(
            "  hand-written nesting: {} cases in {:.1} s ({} cases so far)",
            suite.hand_written - before,
            phase.elapsed().as_secs_f64(),
            suite.cases
        );
    }
    if let Some((name, strategy, cases)) = deep
        && selected(name)
        && !suite.aborted
    {
        uncaptured(&format!(
            "hostile input on {backend:?}: generating {cases} deeply nested documents (to name a case that aborts the process: HOSTILE_SEED={} HOSTILE_ONLY='{name}' HOSTILE_VERBOSE=1)",
            suite.seed
        ));
        suite.run_generated(name, strategy, cases).await;
    }
    if selected("hand-written fragment bomb") {
        suite.run_hand_written(fragment_bombs(), true).await;
    }
    if !suite.aborted {
        suite.health_checks += 1;
        if let Err(err) = healthy(&suite.target).await {
            suite.fail(format!("[health at the end] {err}"));
        }
    }
    suite
}

#[test]
fn hostile_input_sqlite() {
    own_process::run(module_path!(), "hostile_input_sqlite", || {
        run(Backend::Sqlite)
    });
}

#[test]
#[ignore = "needs TEST_DATABASE_URL and TEST_REDIS_URL"]
fn hostile_input_mariadb_redis() {
    own_process::run(module_path!(), "hostile_input_mariadb_redis", || {
        crate::helpers::require_external();
        run(Backend::MariaDb);
    });
}
