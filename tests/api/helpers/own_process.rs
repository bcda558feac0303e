//! Tests that own something global to a process — the tracing subscriber, or metric counters whose exact
//! movement they assert — run in a child process of this test binary, alone, as if in a binary of their own.

use std::process::{Command, Stdio};

/// Names the test a child process was started for; set only in that child.
const CHILD: &str = "BOARD_TEST_OWN_PROCESS";

/// Runs `body` in a fresh process of this test binary that runs only the test `module::name` (the caller
/// passes `module_path!()` and its own name). The child's captured output becomes this test's; what it
/// writes to stderr uncaptured goes straight through. Fails when the child fails, aborts, or runs no test.
pub fn run(module: &str, name: &str, body: impl FnOnce()) {
    // `module_path!()` starts with the crate's name, which libtest's test names leave out.
    let path = module.split_once("::").map_or("", |(_, rest)| rest);
    let test = format!("{path}::{name}");
    if std::env::var(CHILD).is_ok_and(|t| t == test) {
        body();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([&test, "--exact", "--include-ignored", "--test-threads=1"])
        .env(CHILD, &test)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    print!("{stdout}");
    assert!(
        output.status.success(),
        "{test} failed in its own process ({})",
        output.status
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child process ran no test named {test}"
    );
}

/// Runs `future` to completion on a runtime like `#[tokio::test(flavor = "multi_thread")]`'s.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
