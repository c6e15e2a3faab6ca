//! Token-bucket rate limits per user and per device, applied after authentication.
//! A refused request gets 429 `rate_limited` with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use control::{ApiError, Caller};

use crate::state::AppState;

/// Refill rate and burst size of one bucket kind.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: f64,
    /// Bucket capacity.
    pub burst: f64,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets for every user and device seen recently.
pub struct RateLimiter {
    user: Rate,
    device: Rate,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// A limiter with the given rates.
    pub fn new(user: Rate, device: Rate) -> RateLimiter {
        RateLimiter {
            user,
            device,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from the caller's user and device buckets, or says how long to wait.
    pub fn check(&self, caller: &Caller, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            // Forget idle buckets (full ones carry no state worth keeping).
            let (user, device) = (self.user, self.device);
            buckets.retain(|k, b| {
                let rate = if k.starts_with("u:") { user } else { device };
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate.per_second
                    < rate.burst
            });
        }
        let keys = [
            (format!("u:{}", caller.user_id), self.user),
            (
                format!("d:{}/{}", caller.user_id, caller.device_id),
                self.device,
            ),
        ];
        let mut wait = Duration::ZERO;
        let mut refilled = Vec::with_capacity(2);
        for (key, rate) in &keys {
            let b = buckets.get(key).copied().unwrap_or(Bucket {
                tokens: rate.burst,
                updated: now,
            });
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            let tokens = (b.tokens + elapsed * rate.per_second).min(rate.burst);
            if tokens < 1.0 {
                // Saturates: a rate too small for `Duration` (or not finite) waits "forever"
                // instead of panicking on the request that asked.
                let secs = (1.0 - tokens) / rate.per_second;
                wait = wait.max(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
            }
            refilled.push((key.clone(), tokens));
        }
        let allowed = wait.is_zero();
        for (key, tokens) in refilled {
            let tokens = if allowed { tokens - 1.0 } else { tokens };
            buckets.insert(
                key,
                Bucket {
                    tokens,
                    updated: now,
                },
            );
        }
        if allowed { Ok(()) } else { Err(wait) }
    }
}

/// Middleware: refuses callers over their rate with 429.
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(caller) = request.extensions().get::<Caller>()
        && let Err(wait) = state.rate_limiter.check(caller, Instant::now())
    {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests",
        )
        .with_details(serde_json::json!({ "retry_after_secs": secs }))
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, device: &str) -> Caller {
        Caller {
            user_id: user.parse().expect("user id"),
            device_id: device.parse().expect("device id"),
        }
    }

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(
            Rate {
                per_second: 10.0,
                burst: 3.0,
            },
            Rate {
                per_second: 10.0,
                burst: 100.0,
            },
        );
        let t0 = Instant::now();
        let alice = caller("alice", "a");
        for _ in 0..3 {
            assert!(limiter.check(&alice, t0).is_ok());
        }
        let wait = limiter.check(&alice, t0).expect_err("over the burst");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO);
        assert!(
            limiter.check(&caller("bob", "b"), t0).is_ok(),
            "others unaffected"
        );
        assert!(
            limiter
                .check(&alice, t0 + Duration::from_millis(100))
                .is_ok(),
            "refilled"
        );
    }

    /// Found by the `config` fuzz target: with a tiny rate the wait overflowed `Duration` and
    /// `check` panicked on the first refused request.
    #[test]
    fn tiny_rates_wait_instead_of_panicking() {
        let tiny = Rate {
            per_second: 1e-30,
            burst: 1.0,
        };
        let limiter = RateLimiter::new(tiny, tiny);
        let t0 = Instant::now();
        let alice = caller("alice", "a");
        assert!(limiter.check(&alice, t0).is_ok());
        let wait = limiter.check(&alice, t0).expect_err("over the burst");
        assert_eq!(wait, Duration::MAX);
    }

    #[test]
    fn device_bucket_is_separate() {
        let limiter = RateLimiter::new(
            Rate {
                per_second: 1.0,
                burst: 100.0,
            },
            Rate {
                per_second: 1.0,
                burst: 2.0,
            },
        );
        let t0 = Instant::now();
        assert!(limiter.check(&caller("alice", "phone"), t0).is_ok());
        assert!(limiter.check(&caller("alice", "phone"), t0).is_ok());
        assert!(limiter.check(&caller("alice", "phone"), t0).is_err());
        assert!(limiter.check(&caller("alice", "laptop"), t0).is_ok());
    }
}
