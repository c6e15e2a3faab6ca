//! A small client of openchatd's public HTTP API: development tokens, JSON requests with a
//! bearer token, and the `/metrics` text.

use anyhow::{Context, bail};
use reqwest::Url;
use serde_json::{Value, json};
use std::time::Duration;

/// Longest wait for one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// The API of one openchatd. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
}

/// A status and a JSON body (`Null` when the body is not JSON).
pub type Answer = (u16, Value);

impl Api {
    /// A client of `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: Url) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent("openchat-soak")
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> anyhow::Result<Url> {
        self.base
            .join(path)
            .with_context(|| format!("bad path {path}"))
    }

    /// A development access token for `user` on `device` (`POST /v1/dev/token`).
    pub async fn token(&self, user: &str, device: &str) -> anyhow::Result<String> {
        let (status, body) = self
            .send(
                self.http.post(self.url("/v1/dev/token")?),
                Some(json!({"user_id": user, "device_id": device})),
            )
            .await?;
        if status != 200 {
            bail!("dev token for {user}: {status} {body}");
        }
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("dev token without access_token")
    }

    /// `POST path` with `body` as `token`'s holder.
    pub async fn post(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Answer> {
        let request = self.http.post(self.url(path)?).bearer_auth(token);
        self.send(request, Some(body)).await
    }

    /// `GET path` as `token`'s holder.
    pub async fn get(&self, token: &str, path: &str) -> anyhow::Result<Answer> {
        let request = self.http.get(self.url(path)?).bearer_auth(token);
        self.send(request, None).await
    }

    /// `POST path` that must answer 2xx; returns the body.
    pub async fn create(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, answer) = self.post(token, path, body).await?;
        if !(200..300).contains(&status) {
            bail!("POST {path}: {status} {answer}");
        }
        Ok(answer)
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let response = self.http.get(self.url("/metrics")?).send().await?;
        Ok(response.error_for_status()?.text().await?)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}

/// The error code of an API error body, or `http_<status>`.
pub fn error_code(status: u16, body: &Value) -> String {
    body["error"]["code"]
        .as_str()
        .map_or_else(|| format!("http_{status}"), str::to_owned)
}

/// The value of the gauge or counter `name` (no labels) in a Prometheus text body.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_unlabelled_metrics_only() {
        let text = "# HELP a_total x\na_total 3\na_total_more 9\nb{le=\"1\"} 2\nc 1.5e3\n";
        assert_eq!(metric(text, "a_total"), Some(3.0));
        assert_eq!(metric(text, "b"), None);
        assert_eq!(metric(text, "c"), Some(1500.0));
        assert_eq!(metric(text, "missing"), None);
    }

    #[test]
    fn error_codes_come_from_the_body() {
        let body = json!({"error": {"code": "rate_limited"}});
        assert_eq!(error_code(429, &body), "rate_limited");
        assert_eq!(error_code(502, &Value::Null), "http_502");
    }
}
