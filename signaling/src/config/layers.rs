//! Merging the configuration layers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use toml::{Table, Value};

use super::Config;

/// Why the configuration cannot be used. Each message names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a value has the wrong type or an unknown key.
    #[error("config {origin}: {message}")]
    Parse {
        /// File name or layer.
        origin: String,
        /// Parser message (with line and column for files).
        message: String,
    },
    /// An `OPENCHAT_*` variable or flag names no known key.
    #[error("unknown setting {0} (see openchatd.sample.toml for every key)")]
    UnknownKey(String),
    /// A value is out of range or inconsistent.
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
}

/// Every key, as a dotted path, with its type, read off the sections themselves: each section
/// (`sfu::MediaSettings`, `control::ControlSettings`, signaling's own) serializes its defaults, and
/// every leaf of that is a key (an unset optional one is a string setting). Nothing restates them;
/// the sample config documents the same keys (a test checks it).
fn keys() -> &'static [(String, Kind)] {
    static KEYS: OnceLock<Vec<(String, Kind)>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys = Vec::new();
        if let Ok(defaults) = serde_json::to_value(Config::default()) {
            leaves("", &defaults, &mut keys);
        }
        keys
    })
}

fn leaves(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, Kind)>) {
    use serde_json::Value as Json;
    let kind = match value {
        Json::Object(fields) => {
            for (name, field) in fields {
                let key = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                leaves(&key, field, out);
            }
            return;
        }
        Json::Number(n) if n.is_f64() => Kind::Float,
        Json::Number(_) => Kind::Int,
        Json::String(_) | Json::Null | Json::Bool(_) | Json::Array(_) => Kind::Str,
    };
    out.push((prefix.to_string(), kind));
}

fn kind_of(key: &str) -> Option<Kind> {
    keys().iter().find(|(k, _)| k == key).map(|(_, kind)| *kind)
}

/// `Str`, `Int` or `Float` for a known key (tests), `?` for an unknown one.
#[cfg(test)]
pub(super) fn kind_name(key: &str) -> &'static str {
    match kind_of(key) {
        Some(Kind::Str) => "Str",
        Some(Kind::Int) => "Int",
        Some(Kind::Float) => "Float",
        None => "?",
    }
}

/// Environment variables that are not settings.
const RESERVED_ENV: &[&str] = &["OPENCHAT_CONFIG"];

/// The dotted keys every layer may set.
pub fn known_keys() -> impl Iterator<Item = &'static str> {
    keys().iter().map(|(k, _)| k.as_str())
}

fn env_name(key: &str) -> String {
    format!("OPENCHAT_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn set_path(root: &mut Table, key: &str, value: Value) {
    let mut table = root;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            table.insert(part.to_string(), value);
            return;
        }
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        let Value::Table(next) = entry else { return };
        table = next;
    }
}

fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn typed(key: &str, raw: &str, origin: &str) -> Result<Value, ConfigError> {
    let kind = kind_of(key).ok_or_else(|| ConfigError::UnknownKey(origin.to_string()))?;
    match kind {
        Kind::Str => Ok(Value::String(raw.to_string())),
        Kind::Int => {
            raw.trim()
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| ConfigError::Parse {
                    origin: origin.to_string(),
                    message: format!("{key} must be an integer, got {raw:?}"),
                })
        }
        Kind::Float => {
            raw.trim()
                .parse::<f64>()
                .map(Value::Float)
                .map_err(|_| ConfigError::Parse {
                    origin: origin.to_string(),
                    message: format!("{key} must be a number, got {raw:?}"),
                })
        }
    }
}

/// Builds the configuration from its layers, lowest first: defaults, `file`, `env` (pairs of
/// `OPENCHAT_*` name and value), then `flags` (pairs of dotted key and value).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[(String, String)],
) -> Result<Config, ConfigError> {
    let text = match file {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        ),
        None => None,
    };
    let origin = file.map(|p| p.display().to_string());
    load_text(origin.as_deref().zip(text.as_deref()), env, flags)
}

/// [`load`] with the file layer given as `(origin, TOML text)`; `origin` (the file name) only
/// appears in error messages. The fuzz target `config` drives this.
pub fn load_text(
    file: Option<(&str, &str)>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &[(String, String)],
) -> Result<Config, ConfigError> {
    let defaults = Value::try_from(Config::default()).map_err(|e| ConfigError::Parse {
        origin: "defaults".into(),
        message: e.to_string(),
    })?;
    let Value::Table(mut merged) = defaults else {
        return Err(ConfigError::Invalid("defaults are not a table".into()));
    };
    if let Some((origin, text)) = file {
        let table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Parse {
                origin: origin.to_string(),
                message: e.to_string(),
            })?;
        merge(&mut merged, table);
    }
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("OPENCHAT_") && !RESERVED_ENV.contains(&k.as_str()))
        .collect();
    env.sort();
    for (name, raw) in env {
        let direct = keys().iter().find(|(k, _)| env_name(k) == name);
        let (key, value) = match direct {
            Some((key, _)) => (key.as_str(), raw),
            None => {
                let Some((key, _)) = name
                    .strip_suffix("_FILE")
                    .and_then(|stem| keys().iter().find(|(k, _)| env_name(k) == stem))
                else {
                    return Err(ConfigError::UnknownKey(name));
                };
                let secret = std::fs::read_to_string(&raw).map_err(|source| ConfigError::Read {
                    path: PathBuf::from(&raw),
                    source,
                })?;
                (
                    key.as_str(),
                    secret.trim_end_matches(['\r', '\n']).to_string(),
                )
            }
        };
        set_path(&mut merged, key, typed(key, &value, &name)?);
    }
    for (key, raw) in flags {
        set_path(&mut merged, key, typed(key, raw, &format!("--{key}"))?);
    }
    let config: Config = Value::Table(merged)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: file.map_or("settings".into(), |(origin, _)| origin.to_string()),
            message: e.to_string(),
        })?;
    config.validate()?;
    Ok(config)
}
