//! Pinecone's REST data plane for the knowledge base's vectors (legacy vector indexes).
//!
//! The API version is pinned (`X-Pinecone-Api-Version: 2025-10`); the index's host is found once
//! with the control plane's describe call unless it is configured, and the index is checked to be
//! a dense vector index of the embeddings' dimension before anything is written or queried — a
//! 2026 document index or a wrong dimension is refused with a message saying so.

use std::time::Duration;

use moose_domain::Secret;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The API version Moose speaks.
pub const API_VERSION: &str = "2025-10";
/// Vectors per upsert request (1,536-dim vectors stay well under the 2 MB request limit).
pub const UPSERT_BATCH: usize = 100;

/// Where the index is.
#[derive(Debug, Clone)]
pub struct PineconeSettings {
    /// `PINECONE_API_KEY`.
    pub api_key: Secret,
    /// `PINECONE_INDEX_NAME`.
    pub index_name: String,
    /// The control plane (`https://api.pinecone.io`).
    pub control_url: String,
    /// The index's host, if known (skips the describe call); with or without a scheme.
    pub index_host: Option<String>,
    /// Namespace of the knowledge base's vectors.
    pub namespace: String,
    /// Deadline of one request.
    pub timeout: Duration,
}

/// Why a Pinecone call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PineconeError {
    /// The index is not usable for Moose.
    #[error("the Pinecone index {index} cannot be used: {why}")]
    Unusable {
        /// The index.
        index: String,
        /// Why.
        why: String,
    },
    /// Pinecone answered an error.
    #[error("Pinecone answered HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// Pinecone could not be reached in time.
    #[error("Pinecone is unreachable: {0}")]
    Unreachable(String),
}

/// What the describe call says about the index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexInfo {
    /// Its dimension.
    pub dimension: u64,
    /// Its metric.
    pub metric: String,
    /// Its data-plane host.
    pub host: String,
    /// `dense` for a vector index.
    pub vector_type: String,
    /// Whether it is ready.
    pub ready: bool,
}

/// A match of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The vector's id.
    pub id: String,
    /// Its score.
    pub score: f64,
}

/// The client.
#[derive(Debug)]
pub struct PineconeClient {
    settings: PineconeSettings,
    http: reqwest::Client,
    host: OnceCell<String>,
}

fn with_scheme(host: &str) -> String {
    if host.starts_with("http://") || host.starts_with("https://") {
        host.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", host.trim_end_matches('/'))
    }
}

impl PineconeClient {
    /// A client of `settings`.
    pub fn new(settings: PineconeSettings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(settings.timeout)
            .build()
            .unwrap_or_default();
        Self {
            settings,
            http,
            host: OnceCell::new(),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &PineconeSettings {
        &self.settings
    }

    /// The index's name.
    pub fn index_name(&self) -> &str {
        &self.settings.index_name
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, PineconeError> {
        let r = req
            .header("Api-Key", self.settings.api_key.expose())
            .header("X-Pinecone-Api-Version", API_VERSION)
            .send()
            .await
            .map_err(|e| {
                PineconeError::Unreachable(if e.is_timeout() {
                    "timed out".into()
                } else {
                    "cannot connect".into()
                })
            })?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        if !(200..300).contains(&status) {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let message = v["error"]["message"]
                .as_str()
                .or_else(|| v["message"].as_str())
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            return Err(PineconeError::Http { status, message });
        }
        if text.trim().is_empty() {
            return Ok(json!({}));
        }
        serde_json::from_str(&text).map_err(|e| PineconeError::Http {
            status,
            message: format!("not JSON: {e}"),
        })
    }

    /// The control plane's description of the index.
    pub async fn describe(&self) -> Result<IndexInfo, PineconeError> {
        let url = format!(
            "{}/indexes/{}",
            self.settings.control_url.trim_end_matches('/'),
            self.settings.index_name
        );
        let v = self.call(self.http.get(url)).await?;
        Ok(IndexInfo {
            dimension: v["dimension"].as_u64().unwrap_or(0),
            metric: v["metric"].as_str().unwrap_or_default().to_owned(),
            host: v["host"].as_str().unwrap_or_default().to_owned(),
            vector_type: v["vector_type"].as_str().unwrap_or("dense").to_owned(),
            ready: v["status"]["ready"].as_bool().unwrap_or(false),
        })
    }

    /// Checks that the index is a ready, dense vector index of `dimension`.
    pub async fn check(&self, dimension: usize) -> Result<IndexInfo, PineconeError> {
        let info = self.describe().await?;
        let unusable = |why: String| PineconeError::Unusable {
            index: self.settings.index_name.clone(),
            why,
        };
        if info.host.is_empty() || info.dimension == 0 {
            return Err(unusable(
                "it is not a vector index (a document index of the 2026-07 API?); Moose speaks the Vectors API".into(),
            ));
        }
        if info.vector_type != "dense" {
            return Err(unusable(format!(
                "its vectors are {}, not dense",
                info.vector_type
            )));
        }
        if info.dimension != dimension as u64 {
            return Err(unusable(format!(
                "its dimension is {} but the embeddings have {dimension}",
                info.dimension
            )));
        }
        if !info.ready {
            return Err(unusable("it is not ready yet".into()));
        }
        Ok(info)
    }

    async fn data_url(&self, path: &str) -> Result<String, PineconeError> {
        let host = self
            .host
            .get_or_try_init(|| async {
                match &self.settings.index_host {
                    Some(h) => Ok(with_scheme(h)),
                    None => Ok(with_scheme(&self.describe().await?.host)),
                }
            })
            .await?;
        Ok(format!("{host}{path}"))
    }

    /// Writes vectors `(id, values, metadata)` in batches of [`UPSERT_BATCH`].
    pub async fn upsert(
        &self,
        vectors: &[(String, Vec<f32>, Value)],
    ) -> Result<usize, PineconeError> {
        let url = self.data_url("/vectors/upsert").await?;
        let mut total = 0;
        for batch in vectors.chunks(UPSERT_BATCH) {
            let body = json!({
                "namespace": self.settings.namespace,
                "vectors": batch.iter().map(|(id, values, metadata)| json!({"id": id, "values": values, "metadata": metadata})).collect::<Vec<_>>(),
            });
            let v = self.call(self.http.post(&url).json(&body)).await?;
            total += v["upsertedCount"].as_u64().unwrap_or(batch.len() as u64) as usize;
        }
        Ok(total)
    }

    /// The `top_k` nearest knowledge-base vectors.
    pub async fn query(&self, vector: &[f32], top_k: usize) -> Result<Vec<Match>, PineconeError> {
        let url = self.data_url("/query").await?;
        let body = json!({
            "namespace": self.settings.namespace, "topK": top_k, "vector": vector,
            "filter": {"source": {"$eq": "kb"}}, "includeMetadata": false, "includeValues": false,
        });
        let v = self.call(self.http.post(url).json(&body)).await?;
        Ok(v["matches"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                Some(Match {
                    id: m["id"].as_str()?.to_owned(),
                    score: m["score"].as_f64().unwrap_or(0.0),
                })
            })
            .collect())
    }
}
