//! Loopback fakes of the cloud services that cannot run here, each speaking the service's real
//! wire protocol and checking what a real server would refuse:
//!
//! - [`openai::FakeOpenAi`]: `POST /v1/chat/completions` (JSON or server-sent events, canonical
//!   OpenAI deltas or Ollama's whole calls, errors and cut streams on demand) and
//!   `POST /v1/embeddings` (deterministic bag-of-words vectors, returned out of order);
//! - [`pinecone::FakePinecone`]: the control plane's describe call and the data plane's
//!   upsert, query, fetch, delete and stats, with Pinecone's limits;
//! - [`codedeploy::FakeCodeDeploy`]: the CodeDeploy calls the local AWS emulator lacks (a
//!   lifecycle hook's status report) or fakes badly (deployments that progress and roll back);
//! - [`supabase::FakeSupabaseAuth`]: Supabase Auth's password and refresh-token grants, with
//!   HS256 tokens as a project with a legacy JWT secret issues them.
//!
//! All bind `127.0.0.1:0` and record what they received.

pub mod codedeploy;
pub mod openai;
pub mod pinecone;
pub mod supabase;

/// Words of a text, lower-cased, without punctuation or very short words.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() >= 3)
        .map(str::to_lowercase)
        .collect()
}

/// A deterministic embedding of `text`: hashed bag of words (FNV-1a into `dim` buckets),
/// L2-normalised. Texts sharing words are near; it stands in for a model in tests, it is not one.
pub fn embed(text: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; dim.max(1)];
    for w in words(text) {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let slot = usize::try_from(h % dim.max(1) as u64).unwrap_or(0);
        v[slot] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

async fn bind() -> (tokio::net::TcpListener, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    (listener, addr)
}
