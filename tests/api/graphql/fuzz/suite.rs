//! The run of every case: failures printed as soon as seen, shrinking, health checks, the tally.

use super::*;

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

pub(super) struct Suite {
    pub(super) backend: Backend,
    pub(super) target: Target,
    pub(super) fx: Fixture,
    pub(super) seed: u64,
    pub(super) cases: usize,
    pub(super) hand_written: usize,
    pub(super) generated: usize,
    pub(super) raw_http: usize,
    pub(super) health_checks: usize,
    pub(super) failures: Vec<String>,
    /// How often each status and each outcome (`ok` or an error code) was seen.
    pub(super) tally: BTreeMap<String, usize>,
    /// Cases that were answered correctly but took more than `SLOW`.
    pub(super) slow: Vec<String>,
    /// Set when the server stopped answering `/healthz`: nothing after that means anything.
    pub(super) aborted: bool,
}

impl Suite {
    /// Records a failure, and prints it at once: a crash of the process must not hide what came before.
    pub(super) fn fail(&mut self, failure: String) {
        uncaptured(&format!("hostile ({:?}) FAILURE {failure}", self.backend));
        self.failures.push(failure);
    }

    pub(super) fn tally(&mut self, answer: &Answer) {
        *self
            .tally
            .entry(format!("HTTP {}", answer.status.as_u16()))
            .or_default() += 1;
        for outcome in &answer.outcomes {
            *self.tally.entry(outcome.clone()).or_default() += 1;
        }
    }

    /// Sends one case, keeps count of what came back and notes slow answers.
    pub(super) async fn exchange(&mut self, label: &str, case: &Case) -> Result<(), String> {
        let started = Instant::now();
        let result = send(&self.target, &self.fx, case).await;
        let took = started.elapsed();
        if let Ok(answer) = &result {
            self.tally(answer);
            if took > SLOW {
                self.slow.push(format!(
                    "{label}: {:.1} s, {} {:?}",
                    took.as_secs_f64(),
                    answer.status,
                    answer.outcomes
                ));
            }
        }
        if verbose() {
            eprintln!(
                "    {label}: {:.2} s{}",
                took.as_secs_f64(),
                if result.is_err() { " FAILED" } else { "" }
            );
        }
        result.map(|_| ())
    }

    /// Counts a case and checks health every `HEALTH_EVERY` cases, and at once after a failed case (a
    /// server that stopped answering makes every case after it time out: better stop there).
    pub(super) async fn counted(&mut self, label: &str, failed: bool) {
        self.cases += 1;
        if failed || self.cases.is_multiple_of(HEALTH_EVERY) {
            self.health_checks += 1;
            if let Err(err) = healthy(&self.target).await {
                self.fail(format!(
                    "[health after {} cases, last {label}] {err}",
                    self.cases
                ));
                self.aborted = true;
            }
        }
    }

    /// `announce`: say so before the phase (uncaptured) and print each label before sending it, so that a
    /// case that takes the process down can be named (with `--nocapture` or `HOSTILE_VERBOSE=1`).
    pub(super) async fn run_hand_written(&mut self, cases: Vec<(String, Case)>, announce: bool) {
        if announce && !self.aborted {
            uncaptured(&format!(
                "hostile input on {:?}: sending {} cases that have crashed or hung the server (a stack overflow abort from here on is the server's; --nocapture names the case)",
                self.backend,
                cases.len()
            ));
        }
        for (label, case) in cases {
            if self.aborted {
                return;
            }
            if announce {
                eprintln!("    sending: {label}");
            }
            let result = self.exchange(&label, &case).await;
            if let Err(err) = &result {
                self.fail(format!("[{label}]\n  request: {case:?}\n  answer: {err}"));
            }
            self.hand_written += 1;
            self.counted(&label, result.is_err()).await;
        }
    }

    pub(super) async fn run_raw(&mut self, cases: Vec<(String, Vec<u8>, Vec<u8>)>) {
        for (label, head, body) in cases {
            if self.aborted {
                return;
            }
            let result = match raw_exchange(&self.target, &head, &body).await {
                Ok((status, bytes)) => check(status, &bytes).map(|a| self.tally(&a)),
                Err(err) => Err(err),
            };
            if let Err(err) = &result {
                self.fail(format!(
                    "[raw HTTP: {label}]\n  request: {} + {} body bytes\n  answer: {err}",
                    preview(&head, 400),
                    body.len()
                ));
            }
            self.raw_http += 1;
            self.counted(&label, result.is_err()).await;
        }
    }

    pub(super) async fn run_generated(
        &mut self,
        name: &str,
        strategy: BoxedStrategy<Case>,
        cases: u32,
    ) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&fnv1a(name).to_le_bytes());
        let config = Config {
            cases,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
        let started = Instant::now();
        let mut failed = 0;
        for i in 0..cases {
            if self.aborted {
                return;
            }
            let mut tree = strategy.new_tree(&mut runner).unwrap();
            let case = tree.current();
            if verbose() {
                eprintln!(
                    "    {name} #{i}: {}",
                    preview(format!("{case:?}").as_bytes(), 300)
                );
            }
            let result = self.exchange(&format!("{name} #{i}"), &case).await;
            if let Err(err) = &result {
                failed += 1;
                // Shrink the first failure of a strategy, unless the server no longer answers at all.
                let shrink = failed == 1 && healthy(&self.target).await.is_ok();
                let (case, err) = if shrink {
                    self.shrink(&mut tree, case, err.clone()).await
                } else {
                    (case, err.clone())
                };
                self.fail(format!(
                    "[{name} #{i}{}]\n  request: {case:?}\n  answer: {err}",
                    if shrink { ", shrunk" } else { "" }
                ));
            }
            self.generated += 1;
            self.counted(name, result.is_err()).await;
        }
        eprintln!(
            "  {name}: {cases} cases in {:.1} s, {failed} failed ({} cases so far)",
            started.elapsed().as_secs_f64(),
            self.cases
        );
    }

    /// proptest's shrinking loop, driven by hand: simplify while the case still fails.
    pub(super) async fn shrink(
        &mut self,
        tree: &mut impl ValueTree<Value = Case>,
        mut case: Case,
        mut err: String,
    ) -> (Case, String) {
        let started = Instant::now();
        if !tree.simplify() {
            return (case, err);
        }
        for _ in 0..SHRINK_STEPS {
            if started.elapsed() > SHRINK_TIME {
                break;
            }
            let candidate = tree.current();
            let more = match send(&self.target, &self.fx, &candidate).await {
                Err(e) => {
                    case = candidate;
                    err = e;
                    tree.simplify()
                }
                Ok(_) => tree.complicate(),
            };
            if !more {
                break;
            }
        }
        (case, err)
    }
}
