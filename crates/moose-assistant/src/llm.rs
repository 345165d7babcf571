//! A small, lenient client of OpenAI-compatible servers: `POST {base}/chat/completions` with
//! tool calls and `POST {base}/embeddings`.
//!
//! Lenient because the servers that speak this protocol differ (docs/assistant.md lists how):
//! every response field is optional, a streamed tool call may arrive in pieces (OpenAI) or whole
//! in one chunk (Ollama, which also reuses `index: 0` for parallel calls), `finish_reason` is any
//! string or none, `arguments` may be a string or an object, usage may be missing (then it is
//! estimated at four characters a token and marked so), and a server that ignores `stream` and
//! answers plain JSON is understood too. Errors follow OpenAI's semantics: 408/409/5xx, connection
//! failures, a stream cut before `[DONE]` and a 429 `rate_limit_exceeded` are retried with backoff
//! (honouring `retry-after-ms`/`retry-after`) within the request's deadline; a 429
//! `insufficient_quota` is not. Prompts, answers and the key are never logged.

use std::time::{Duration, Instant};

use moose_domain::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How to reach the model.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Base URL, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    /// The API key (servers that need none get a placeholder).
    pub api_key: Option<Secret>,
    /// Chat model.
    pub model: String,
    /// Embeddings model (`None`: no dense retrieval).
    pub embedding_model: Option<String>,
    /// Deadline of one model call, retries included.
    pub timeout: Duration,
    /// Retries of a retryable failure.
    pub max_retries: u32,
    /// The name of the token cap field (`max_completion_tokens` for OpenAI, `max_tokens` for
    /// most compatible servers).
    pub max_tokens_field: String,
    /// Token cap of one completion.
    pub max_tokens: u32,
}

impl LlmSettings {
    /// Settings for `base_url` with OpenAI's defaults for everything else.
    pub fn new(
        base_url: impl Into<String>,
        api_key: Option<Secret>,
        model: impl Into<String>,
    ) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        let field = if base_url.contains("api.openai.com") {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        Self {
            base_url,
            api_key,
            model: model.into(),
            embedding_model: None,
            timeout: Duration::from_secs(30),
            max_retries: 2,
            max_tokens_field: field.to_owned(),
            max_tokens: 800,
        }
    }
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LlmError {
    /// The account's quota is used up (429 `insufficient_quota`): not retried.
    #[error("the language model's quota is exhausted")]
    Quota,
    /// Still rate-limited after the retries.
    #[error("the language model is rate-limiting requests")]
    RateLimited,
    /// The key was refused (401/403).
    #[error("the language model refused the API key (HTTP {0})")]
    Unauthorized(u16),
    /// The request was refused (400/404/422): a bug or a wrong model name; not retried.
    #[error("the language model refused the request (HTTP {status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server failed or could not be reached, after the retries.
    #[error("the language model is unavailable: {0}")]
    Unavailable(String),
    /// No answer within the deadline.
    #[error("the language model did not answer in time")]
    Timeout,
    /// The answer could not be understood.
    #[error("the language model's answer could not be read: {0}")]
    Protocol(String),
}

impl LlmError {
    fn retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::Unavailable(_) | Self::Protocol(_)
        )
    }

    /// A short code for counters and notices.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Quota => "quota",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized(_) => "unauthorized",
            Self::Refused { .. } => "refused",
            Self::Unavailable(_) => "unavailable",
            Self::Timeout => "timeout",
            Self::Protocol(_) => "protocol",
        }
    }
}

/// A message of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: &'static str,
    /// Text (`None` for an assistant turn that only calls tools).
    pub content: Option<String>,
    /// Calls of an assistant turn.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The call a `tool` message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message of `role` with text.
    pub fn text(role: &'static str, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// The answer to a tool call.
    pub fn tool(call_id: &str, content: &Value) -> Self {
        Self {
            role: "tool",
            content: Some(content.to_string()),
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.to_owned()),
        }
    }
}

/// A tool call as the model made it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    /// The call's id (made up when the server sent none).
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The function and its arguments.
    pub function: FunctionCall,
}

/// The function of a tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionCall {
    /// The tool's name.
    pub name: String,
    /// Its arguments as JSON text (as the protocol carries them).
    pub arguments: String,
}

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
    /// Whether the server sent no usage and these are estimates (4 characters a token).
    pub estimated: bool,
}

impl Usage {
    /// Adds another call's usage.
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.estimated |= other.estimated;
    }
}

/// One completion.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The text (empty when the turn only calls tools).
    pub content: String,
    /// The tool calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// As the server said it (any string).
    pub finish_reason: Option<String>,
    /// Tokens used.
    pub usage: Usage,
}

/// The client.
#[derive(Debug, Clone)]
pub struct LlmClient {
    settings: LlmSettings,
    http: reqwest::Client,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    code: Option<Value>,
}

impl LlmClient {
    /// A client with `settings`.
    pub fn new(settings: LlmSettings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self { settings, http }
    }

    /// The settings.
    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// One chat completion with `tools` (OpenAI function definitions), streamed.
    pub async fn complete(
        &self,
        messages: &[Message],
        tools: &Value,
    ) -> Result<Completion, LlmError> {
        let mut body = json!({
            "model": self.settings.model,
            "messages": messages,
            "temperature": 0.2,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        body[self.settings.max_tokens_field.as_str()] = json!(self.settings.max_tokens);
        if tools.as_array().is_some_and(|t| !t.is_empty()) {
            body["tools"] = tools.clone();
            body["tool_choice"] = json!("auto");
        }
        let prompt_chars: usize = messages
            .iter()
            .map(|m| m.content.as_deref().map_or(0, str::len) + 16)
            .sum();
        let url = format!("{}/chat/completions", self.settings.base_url);
        self.with_retries(|deadline| {
            let body = body.clone();
            let url = url.clone();
            async move {
                let response = self.send(&url, &body, deadline).await?;
                let is_json = response
                    .headers()
                    .get(reqwest::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.contains("application/json"));
                let mut c = if is_json {
                    let v: Value = read_json(response, deadline).await?;
                    from_json(&v)?
                } else {
                    read_stream(response, deadline).await?
                };
                if c.usage.total_tokens == 0 {
                    c.usage = estimate(prompt_chars, &c);
                }
                Ok(c)
            }
        })
        .await
    }

    /// Embeddings of `inputs`, in their order.
    pub async fn embed(&self, inputs: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        let Some(model) = &self.settings.embedding_model else {
            return Err(LlmError::Refused {
                status: 0,
                message: "no embeddings model is configured".into(),
            });
        };
        let body = json!({"model": model, "input": inputs, "encoding_format": "float"});
        let url = format!("{}/embeddings", self.settings.base_url);
        let v = self
            .with_retries(|deadline| {
                let body = body.clone();
                let url = url.clone();
                async move {
                    let r = self.send(&url, &body, deadline).await?;
                    read_json(r, deadline).await
                }
            })
            .await?;
        let mut rows: Vec<(usize, Vec<f32>)> = Vec::new();
        for (pos, d) in v["data"].as_array().into_iter().flatten().enumerate() {
            let index = d["index"].as_u64().map_or(pos, |i| i as usize);
            let values = d["embedding"]
                .as_array()
                .ok_or_else(|| LlmError::Protocol("an embedding without values".into()))?
                .iter()
                .map(|x| x.as_f64().unwrap_or(0.0) as f32)
                .collect();
            rows.push((index, values));
        }
        // The protocol orders results by `index`, not by position.
        rows.sort_by_key(|(i, _)| *i);
        if rows.len() != inputs.len() {
            return Err(LlmError::Protocol(format!(
                "{} embeddings for {} inputs",
                rows.len(),
                inputs.len()
            )));
        }
        Ok(rows.into_iter().map(|(_, v)| v).collect())
    }

    async fn with_retries<F, Fut, T>(&self, attempt: F) -> Result<T, LlmError>
    where
        F: Fn(Instant) -> Fut,
        Fut: std::future::Future<Output = Result<T, Attempt>>,
    {
        let deadline = Instant::now() + self.settings.timeout;
        let mut tries = 0;
        loop {
            let out = attempt(deadline).await;
            let (err, wait) = match out {
                Ok(v) => return Ok(v),
                Err(Attempt { error, retry_after }) => (error, retry_after),
            };
            tries += 1;
            if !err.retryable() || tries > self.settings.max_retries {
                return Err(err);
            }
            let backoff = wait.unwrap_or_else(|| {
                let base = 250u64 << tries.min(6);
                Duration::from_millis(base + u64::from(jitter()) % base)
            });
            if Instant::now() + backoff >= deadline {
                return Err(if err == LlmError::RateLimited {
                    err
                } else {
                    LlmError::Timeout
                });
            }
            tracing::debug!(
                error = err.code(),
                attempt = tries,
                wait_ms = backoff.as_millis() as u64,
                "retrying the language model"
            );
            tokio::time::sleep(backoff).await;
        }
    }

    async fn send(
        &self,
        url: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<reqwest::Response, Attempt> {
        let key = self
            .settings
            .api_key
            .as_ref()
            .map_or("moose-no-key", Secret::expose);
        let left = deadline.saturating_duration_since(Instant::now());
        let send = self.http.post(url).bearer_auth(key).json(body).send();
        let response = match tokio::time::timeout(left, send).await {
            Err(_) => return Err(LlmError::Timeout.into()),
            Ok(Err(e)) if e.is_timeout() => return Err(LlmError::Timeout.into()),
            Ok(Err(e)) => {
                return Err(LlmError::Unavailable(if e.is_connect() {
                    "cannot connect".into()
                } else {
                    "the connection failed".into()
                })
                .into());
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        if let Some(id) = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
        {
            tracing::debug!(
                status,
                request_id = id,
                "the language model answered an error"
            );
        }
        let text = tokio::time::timeout(left, response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let detail = serde_json::from_str::<ErrorBody>(&text)
            .ok()
            .and_then(|b| b.error)
            .unwrap_or_default();
        let code = detail
            .code
            .as_ref()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = detail.kind.unwrap_or_default();
        let message: String = detail
            .message
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let error = match status {
            429 if code == "insufficient_quota" || kind == "insufficient_quota" => LlmError::Quota,
            429 => LlmError::RateLimited,
            401 | 403 => LlmError::Unauthorized(status),
            408 | 409 | 500..=599 => LlmError::Unavailable(format!("HTTP {status}")),
            _ => LlmError::Refused { status, message },
        };
        Err(Attempt { error, retry_after })
    }
}

/// A failed attempt and how long the server asked to wait.
#[derive(Debug)]
struct Attempt {
    error: LlmError,
    retry_after: Option<Duration>,
}

impl From<LlmError> for Attempt {
    fn from(error: LlmError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

fn jitter() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// `retry-after-ms` before `retry-after` (seconds), capped at a minute.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let num = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    let d = num("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| num("retry-after").map(Duration::from_secs_f64))?;
    Some(d.min(Duration::from_secs(60)))
}

async fn read_json(response: reqwest::Response, deadline: Instant) -> Result<Value, Attempt> {
    let left = deadline.saturating_duration_since(Instant::now());
    let bytes = match tokio::time::timeout(left, response.bytes()).await {
        Err(_) => return Err(LlmError::Timeout.into()),
        Ok(Err(_)) => return Err(LlmError::Unavailable("the answer was cut off".into()).into()),
        Ok(Ok(b)) => b,
    };
    serde_json::from_slice(&bytes).map_err(|e| LlmError::Protocol(format!("not JSON: {e}")).into())
}

/// A non-streamed completion.
fn from_json(v: &Value) -> Result<Completion, LlmError> {
    let choice = v["choices"]
        .get(0)
        .ok_or_else(|| LlmError::Protocol("no choices".into()))?;
    let msg = &choice["message"];
    let mut acc = Accumulator {
        content: msg["content"].as_str().unwrap_or_default().to_owned(),
        ..Accumulator::default()
    };
    for (i, call) in msg["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        acc.tool_delta(call, i);
    }
    acc.finish_reason = choice["finish_reason"]
        .as_str()
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    acc.usage = usage_of(&v["usage"]);
    Ok(acc.finish())
}

fn usage_of(v: &Value) -> Option<Usage> {
    let n = |k: &str| v[k].as_u64();
    let prompt = n("prompt_tokens")?;
    let completion = n("completion_tokens").unwrap_or(0);
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: n("total_tokens").unwrap_or(prompt + completion),
        estimated: false,
    })
}

fn estimate(prompt_chars: usize, c: &Completion) -> Usage {
    let out_chars = c.content.len()
        + c.tool_calls
            .iter()
            .map(|t| t.function.name.len() + t.function.arguments.len())
            .sum::<usize>();
    let p = prompt_chars.div_ceil(4) as u64;
    let o = out_chars.div_ceil(4) as u64;
    Usage {
        prompt_tokens: p,
        completion_tokens: o,
        total_tokens: p + o,
        estimated: true,
    }
}

/// Builds a completion from stream deltas.
#[derive(Debug, Default)]
struct Accumulator {
    content: String,
    calls: Vec<(Option<u64>, String, String, String)>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

impl Accumulator {
    /// One tool-call delta. Calls are matched by `index`, except that a new non-empty `id` at an
    /// occupied index starts a new call (Ollama numbers parallel calls all `0`).
    fn tool_delta(&mut self, d: &Value, position: usize) {
        let index = d["index"].as_u64();
        let id = d["id"].as_str().filter(|s| !s.is_empty());
        let f = &d["function"];
        let args = match &f["arguments"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let existing = self
            .calls
            .iter()
            .rposition(|(i, _, _, _)| index.is_some() && *i == index);
        let slot = match (existing, id) {
            (Some(k), Some(id)) if !self.calls[k].1.is_empty() && self.calls[k].1 != id => None,
            (Some(k), _) => Some(k),
            (None, _) => None,
        };
        match slot {
            Some(k) => {
                let call = &mut self.calls[k];
                if let Some(id) = id {
                    call.1 = id.to_owned();
                }
                if let Some(name) = f["name"].as_str().filter(|n| !n.is_empty()) {
                    call.2 = name.to_owned();
                }
                call.3.push_str(&args);
            }
            None => self.calls.push((
                index.or(Some(position as u64)),
                id.unwrap_or_default().to_owned(),
                f["name"].as_str().unwrap_or_default().to_owned(),
                args,
            )),
        }
    }

    fn chunk(&mut self, v: &Value) {
        if let Some(u) = usage_of(&v["usage"]) {
            self.usage = Some(u);
        }
        for choice in v["choices"].as_array().into_iter().flatten() {
            let delta = if choice["delta"].is_object() {
                &choice["delta"]
            } else {
                // Some servers send whole messages in stream chunks.
                &choice["message"]
            };
            if let Some(text) = delta["content"].as_str() {
                self.content.push_str(text);
            }
            for (i, call) in delta["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let position = self.calls.len() + i;
                self.tool_delta(call, position);
            }
            if let Some(r) = choice["finish_reason"].as_str().filter(|r| !r.is_empty()) {
                self.finish_reason = Some(r.to_owned());
            }
        }
    }

    fn finish(self) -> Completion {
        let tool_calls = self
            .calls
            .into_iter()
            .enumerate()
            .filter(|(_, (_, _, name, _))| !name.is_empty())
            .map(|(n, (_, id, name, arguments))| ToolCall {
                id: if id.is_empty() {
                    format!("call_moose_{n}")
                } else {
                    id
                },
                kind: "function",
                function: FunctionCall { name, arguments },
            })
            .collect();
        Completion {
            content: self.content,
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.usage.unwrap_or_default(),
        }
    }
}

/// Reads a server-sent-event stream of completion chunks up to `[DONE]`.
async fn read_stream(
    mut response: reqwest::Response,
    deadline: Instant,
) -> Result<Completion, Attempt> {
    let mut acc = Accumulator::default();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, response.chunk()).await {
            Err(_) => return Err(LlmError::Timeout.into()),
            Ok(Err(_)) => {
                return Err(LlmError::Unavailable("the stream broke off".into()).into());
            }
            Ok(Ok(None)) => {
                return Err(LlmError::Protocol("the stream ended before [DONE]".into()).into());
            }
            Ok(Ok(Some(c))) => c,
        };
        buf.extend_from_slice(&chunk);
        while let Some(end) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim();
            let Some(data) = line.strip_prefix("data:") else {
                continue; // comments, `event:` and `id:` lines, blank separators
            };
            let data = data.trim();
            if data == "[DONE]" {
                return Ok(acc.finish());
            }
            let v: Value = serde_json::from_str(data).map_err(|e| {
                Attempt::from(LlmError::Protocol(format!("a chunk is not JSON: {e}")))
            })?;
            if let Some(e) = v.get("error") {
                let msg = e["message"].as_str().unwrap_or("an error in the stream");
                return Err(LlmError::Unavailable(msg.chars().take(200).collect()).into());
            }
            acc.chunk(&v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_whole_tool_calls_accumulate_into_the_same_calls() {
        // OpenAI: pieces by index.
        let mut a = Accumulator::default();
        a.chunk(&json!({"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_energy","arguments":""}}]}}]}));
        a.chunk(&json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"sys"}}]}}]}));
        a.chunk(&json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"tem\":\"A\"}"}}]}}]}));
        a.chunk(&json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}));
        a.chunk(&json!({"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}));
        let c = a.finish();
        assert_eq!(c.tool_calls.len(), 1);
        assert_eq!(c.tool_calls[0].function.arguments, "{\"system\":\"A\"}");
        assert_eq!(c.usage.total_tokens, 15);
        // Ollama: whole calls, all at index 0, told apart by id; arguments as an object.
        let mut b = Accumulator::default();
        b.chunk(&json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"x1","function":{"name":"get_energy","arguments":{"system":"A"}}}]}}]}));
        b.chunk(&json!({"choices":[{"delta":{"tool_calls":[{"index":0,"id":"x2","function":{"name":"get_kpis","arguments":"{}"}}]},"finish_reason":"stop"}]}));
        let c = b.finish();
        assert_eq!(c.tool_calls.len(), 2, "{c:?}");
        assert_eq!(c.tool_calls[0].function.arguments, "{\"system\":\"A\"}");
        assert_eq!(c.tool_calls[1].function.name, "get_kpis");
        assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn retry_after_prefers_milliseconds_and_is_capped() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        h.insert("retry-after-ms", "999999999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(60)));
    }
}
