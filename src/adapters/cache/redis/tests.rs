//! The breaker's judgement of Redis errors.

use super::*;
use fred::error::ErrorKind;

#[test]
fn only_a_redis_that_does_not_answer_opens_the_breaker() {
    for refused in [
        "CROSSSLOT Keys in request don't hash to the same slot",
        "NOPERM User default has no permissions to run the 'evalsha' command",
        "NOSCRIPT No matching script",
        "ERR Error running script",
    ] {
        assert!(
            !unanswered(&FredError::new(ErrorKind::Unknown, refused)),
            "{refused}"
        );
    }
    for down in [
        ErrorKind::IO,
        ErrorKind::Timeout,
        ErrorKind::Canceled,
        ErrorKind::Cluster,
    ] {
        assert!(unanswered(&FredError::new(down.clone(), "x")), "{down:?}");
    }
}
