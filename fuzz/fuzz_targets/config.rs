//! Layered configuration (`signaling::config::load_text`): TOML text, `OPENCHAT_*` environment
//! values and `--set` flags, merged and validated. A configuration that validates must also be
//! usable: the rate limiter `openchatd` builds from it is driven past its burst.
//!
//! Input (UTF-8): the TOML text, then after a NUL byte one setting per line: `NAME=value` for the
//! environment, `--key=value` for a flag. `*_FILE` variables read a file: the harness points
//! them at a path that does not exist (file reading is not parsing).
#![no_main]

use std::time::{Duration, Instant};

use control::Caller;
use libfuzzer_sys::fuzz_target;
use signaling::config::{Config, Secret, load_text};
use signaling::rate_limit::{Rate, RateLimiter};

/// Every secret replaced by another non-empty value: `Debug` must not tell them apart.
fn other_secrets(config: &Config) -> Config {
    let mut other = config.clone();
    for secret in [
        &mut other.auth.secret,
        &mut other.rtc.ticket_secret,
        &mut other.database.url,
    ] {
        if !secret.is_empty() {
            *secret = Secret::new("another value entirely");
        }
    }
    other
}

/// Builds the rate limiter as `openchatd` does (server.rs) and spends a small burst, then waits.
fn use_rate_limits(config: &Config) {
    let limits = &config.limits;
    let limiter = RateLimiter::new(
        Rate {
            per_second: limits.user_rps,
            burst: f64::from(limits.user_burst),
        },
        Rate {
            per_second: limits.device_rps,
            burst: f64::from(limits.device_burst),
        },
    );
    let caller = Caller {
        user_id: "alice".parse().expect("a user id"),
        device_id: "laptop".parse().expect("a device id"),
    };
    let now = Instant::now();
    for _ in 0..=limits.user_burst.min(limits.device_burst).min(64) {
        let _ = limiter.check(&caller, now);
    }
    let _ = limiter.check(&caller, now + Duration::from_secs(1));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, settings) = text.split_once('\0').unwrap_or((text, ""));
    let mut env = Vec::new();
    let mut flags = Vec::new();
    for line in settings.lines() {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if let Some(key) = name.strip_prefix("--") {
            flags.push((key.to_string(), value.to_string()));
        } else if name.ends_with("_FILE") {
            env.push((name.to_string(), "/nonexistent/openchat-fuzz".to_string()));
        } else {
            env.push((name.to_string(), value.to_string()));
        }
    }
    let file = (!toml.is_empty()).then_some(("fuzz.toml", toml));
    if let Ok(config) = load_text(file, env, &flags) {
        assert!(config.validate().is_ok());
        assert_eq!(
            format!("{config:?}"),
            format!("{:?}", other_secrets(&config))
        );
        use_rate_limits(&config);
    }
});
