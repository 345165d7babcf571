//! The model client against the fake OpenAI-compatible server on loopback: the canonical
//! protocol, the deviations of compatible servers, and OpenAI's error semantics.

use std::time::Duration;

use moose_assistant::llm::{LlmClient, LlmError, LlmSettings, Message};
use moose_domain::Secret;
use moose_fakes::openai::{FakeOpenAi, Reply, Style};
use serde_json::json;

async fn setup() -> (FakeOpenAi, LlmClient) {
    let fake = FakeOpenAi::start(Some("sk-test"), 64).await;
    let mut s = LlmSettings::new(
        fake.base_url(),
        Some(Secret::new("sk-test")),
        "gpt-4.1-mini",
    );
    s.embedding_model = Some("text-embedding-3-small".into());
    s.timeout = Duration::from_secs(5);
    (fake, LlmClient::new(s))
}

fn question() -> Vec<Message> {
    vec![Message::text(
        "user",
        "How did the Cologne roof do yesterday?",
    )]
}

fn tools() -> serde_json::Value {
    moose_assistant::tools::definitions()
}

#[tokio::test]
async fn canonical_streamed_tool_calls_and_text_are_read() {
    let (fake, client) = setup().await;
    fake.push([
        Reply::tool_calls(
            &[("get_energy", r#"{"system":"Cologne","from":"yesterday"}"#)],
            Style::OpenAi,
        ),
        Reply::text("Cologne produced 23.46 kWh yesterday."),
    ]);
    let c = client.complete(&question(), &tools()).await.unwrap();
    assert_eq!(c.tool_calls.len(), 1);
    assert_eq!(c.tool_calls[0].function.name, "get_energy");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&c.tool_calls[0].function.arguments).unwrap(),
        json!({"system": "Cologne", "from": "yesterday"})
    );
    assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
    assert!(!c.usage.estimated);
    assert_eq!(c.usage.total_tokens, 170);
    let c = client.complete(&question(), &tools()).await.unwrap();
    assert_eq!(c.content, "Cologne produced 23.46 kWh yesterday.");
    let sent = &fake.requests()[0];
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["model"], "gpt-4.1-mini");
    assert_eq!(sent["tools"].as_array().unwrap().len(), 11);
    assert!(
        sent.get("max_tokens").is_some(),
        "compatible servers get max_tokens"
    );
}

#[tokio::test]
async fn ollama_style_calls_missing_fields_and_plain_json_answers_are_tolerated() {
    let (fake, client) = setup().await;
    fake.push([
        Reply::tool_calls(
            &[("get_energy", r#"{"system":"A","from":"today"}"#), ("get_kpis", r#"{"system":"A","from":"today"}"#)],
            Style::Ollama,
        ),
        // A server that ignores `stream`, omits id/object/created/usage and says finish "".
        Reply::Json(json!({"choices": [{"message": {"role": "assistant", "content": "Done."}, "finish_reason": ""}]})),
    ]);
    let c = client.complete(&question(), &tools()).await.unwrap();
    assert_eq!(
        c.tool_calls.len(),
        2,
        "two calls at index 0, told apart by id"
    );
    assert_eq!(c.tool_calls[1].function.name, "get_kpis");
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    assert!(c.usage.estimated, "no usage sent: estimated");
    assert!(c.usage.total_tokens > 0);
    let c = client.complete(&question(), &tools()).await.unwrap();
    assert_eq!(c.content, "Done.");
    assert_eq!(c.finish_reason, None, "an empty finish_reason is no reason");
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_but_an_exhausted_quota_is_not() {
    let (fake, client) = setup().await;
    fake.push([
        Reply::rate_limited(20),
        Reply::server_error(),
        Reply::text("ok"),
    ]);
    let c = client.complete(&question(), &tools()).await.unwrap();
    assert_eq!(c.content, "ok");
    assert_eq!(fake.requests().len(), 3);

    fake.push([Reply::quota()]);
    assert_eq!(
        client.complete(&question(), &tools()).await,
        Err(LlmError::Quota)
    );
    assert_eq!(fake.requests().len(), 4, "quota is not retried");

    fake.push([
        Reply::rate_limited(10),
        Reply::rate_limited(10),
        Reply::rate_limited(10),
    ]);
    assert_eq!(
        client.complete(&question(), &tools()).await,
        Err(LlmError::RateLimited)
    );
    assert_eq!(fake.requests().len(), 7, "two retries, then the error");
}

#[tokio::test]
async fn a_stream_cut_before_done_is_retried_and_then_reported() {
    let (fake, client) = setup().await;
    let Reply::Stream { chunks, .. } = Reply::text("half an answer") else {
        unreachable!()
    };
    let cut = Reply::Stream { chunks, cut: true };
    fake.push([cut.clone(), Reply::text("a whole answer")]);
    assert_eq!(
        client
            .complete(&question(), &tools())
            .await
            .unwrap()
            .content,
        "a whole answer"
    );
    fake.push([cut.clone(), cut.clone(), cut]);
    assert!(matches!(
        client.complete(&question(), &tools()).await,
        Err(LlmError::Protocol(m)) if m.contains("[DONE]")
    ));
}

#[tokio::test]
async fn a_slow_server_times_out_and_a_wrong_key_is_refused() {
    let fake = FakeOpenAi::start(Some("sk-right"), 8).await;
    let mut s = LlmSettings::new(fake.base_url(), Some(Secret::new("sk-wrong")), "m");
    s.timeout = Duration::from_millis(300);
    let client = LlmClient::new(s.clone());
    assert_eq!(
        client.complete(&question(), &tools()).await,
        Err(LlmError::Unauthorized(401))
    );
    s.api_key = Some(Secret::new("sk-right"));
    let client = LlmClient::new(s);
    fake.push([Reply::Slow(Duration::from_secs(3))]);
    assert_eq!(
        client.complete(&question(), &tools()).await,
        Err(LlmError::Timeout)
    );
}

#[tokio::test]
async fn the_fake_refuses_what_openai_refuses_and_the_client_does_not_retry_it() {
    let (fake, client) = setup().await;
    // An assistant tool call with no tool answer: OpenAI answers 400.
    let mut messages = question();
    messages.push(Message {
        role: "assistant",
        content: None,
        tool_calls: vec![moose_assistant::llm::ToolCall {
            id: "call_1".into(),
            kind: "function",
            function: moose_assistant::llm::FunctionCall {
                name: "get_energy".into(),
                arguments: "{}".into(),
            },
        }],
        tool_call_id: None,
    });
    let r = client.complete(&messages, &tools()).await;
    assert!(
        matches!(r, Err(LlmError::Refused { status: 400, ref message }) if message.contains("call_1")),
        "{r:?}"
    );
    assert_eq!(fake.requests().len(), 1);
    messages.push(Message::tool("call_1", &json!({"rows": []})));
    fake.push([Reply::text("fine")]);
    assert_eq!(
        client.complete(&messages, &tools()).await.unwrap().content,
        "fine"
    );
}

#[tokio::test]
async fn embeddings_come_back_in_input_order() {
    let (fake, client) = setup().await;
    let inputs: Vec<String> = [
        "insulation fault",
        "inverter fan filter",
        "grid voltage too high",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let v = client.embed(&inputs).await.unwrap();
    assert_eq!(v.len(), 3);
    for (text, got) in inputs.iter().zip(&v) {
        let want = moose_fakes::embed(text, 64);
        assert_eq!(got, &want, "{text}: the server returned them reversed");
    }
    assert_eq!(fake.embedding_requests(), 1);
}
