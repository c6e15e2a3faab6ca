//! Layered configuration (`signaling::config::load_text`): TOML text, `OPENCHAT_*` environment
//! values and `--set` flags, merged and validated.
//!
//! Input (UTF-8): the TOML text, then after a NUL byte one setting per line: `NAME=value` for the
//! environment, `--key=value` for a flag. `*_FILE` variables read a file: the harness points
//! them at a path that does not exist (file reading is not parsing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use signaling::config::{Config, Secret, load_text};

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
    }
});
