//! `chat-service` with a language model (the fake OpenAI-compatible server on loopback): what
//! happens when the model is down, out of quota or slow, the daily token budget, conversation
//! history, confirmed snoozes and maintenance windows, retention, counters, and logs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::Org;
use moose_api::{ChatSettings, HttpLimits};
use moose_fakes::openai::{FakeOpenAi, Reply};
use serde_json::{Value, json};

use common::{ask, with_model};

#[tokio::test]
async fn a_model_down_out_of_quota_or_slow_gives_the_offline_answer_with_a_notice() {
    let mut org = Org::new().await;
    // Down: a port nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    with_model(
        &mut org,
        &format!("http://{dead}/v1"),
        Duration::from_secs(5),
        ChatSettings::default(),
    );
    let (viewer, _) = org.login("viewer@example.com").await;
    let q = json!({"message": "What does state code 447 mean?"});
    let r = ask(&org, &viewer, q.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["mode"], "offline");
    assert!(
        r.body["response"]
            .as_str()
            .unwrap()
            .starts_with("State code 447"),
        "{}",
        r.body
    );
    assert!(
        r.body["notice"]
            .as_str()
            .unwrap()
            .contains("could not be used (unavailable)"),
        "{}",
        r.body
    );

    let fake = FakeOpenAi::start(Some("sk-test"), 8).await;
    with_model(
        &mut org,
        fake.base_url(),
        Duration::from_millis(700),
        ChatSettings::default(),
    );
    fake.push([Reply::quota()]);
    let r = ask(&org, &viewer, q.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body["notice"]
            .as_str()
            .unwrap()
            .contains("quota is exhausted"),
        "{}",
        r.body
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "an exhausted quota is not retried"
    );

    fake.push([Reply::Slow(Duration::from_secs(3))]);
    let r = ask(&org, &viewer, q.clone()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body["notice"]
            .as_str()
            .unwrap()
            .contains("did not answer in time"),
        "{}",
        r.body
    );
    assert_eq!(r.body["mode"], "offline");

    // The counters saw both fallbacks; only administrators read them.
    let (admin, _) = org.login("admin@example.com").await;
    let m = org
        .call("GET", "/api/chat/metrics", Some(&admin), None)
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    assert_eq!(m.body["model_configured"], true);
    assert_eq!(m.body["counters"]["fallbacks"]["quota"], 1, "{}", m.body);
    assert_eq!(m.body["counters"]["fallbacks"]["timeout"], 1, "{}", m.body);
    assert_eq!(m.body["counters"]["offline_turns"], 2);
    assert_eq!(
        org.call("GET", "/api/chat/metrics", Some(&viewer), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_daily_token_budget_sends_the_rest_of_the_day_offline() {
    let mut org = Org::new().await;
    let fake = FakeOpenAi::start(Some("sk-test"), 8).await;
    fake.set_model(Arc::new(|_| {
        Reply::text("Moose's knowledge base has an article on that.")
    }));
    let chat = ChatSettings {
        daily_tokens_per_user: 100,
        ..ChatSettings::default()
    };
    with_model(&mut org, fake.base_url(), Duration::from_secs(5), chat);
    let (viewer, _) = org.login("viewer@example.com").await;
    let r = ask(
        &org,
        &viewer,
        json!({"message": "how do I snooze a system?"}),
    )
    .await;
    assert_eq!(r.body["mode"], "model", "{}", r.body);
    let used = r.body["usage"]["total_tokens"].as_u64().unwrap();
    assert!(used > 100, "the fake reports {used} tokens");
    let r = ask(
        &org,
        &viewer,
        json!({"message": "how do I snooze a system?"}),
    )
    .await;
    assert_eq!(r.body["mode"], "offline", "{}", r.body);
    assert!(
        r.body["notice"].as_str().unwrap().contains("token budget"),
        "{}",
        r.body
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "the model is not asked once the budget is spent"
    );
    // Another user's budget is their own.
    let (tech, _) = org.login("tech@example.com").await;
    let r = ask(&org, &tech, json!({"message": "how do I snooze a system?"})).await;
    assert_eq!(r.body["mode"], "model");
}

#[tokio::test]
async fn a_conversation_carries_its_history_to_the_model() {
    let mut org = Org::new().await;
    let fake = FakeOpenAi::start(Some("sk-test"), 8).await;
    fake.set_model(Arc::new(|req: &Value| {
        let n = req["messages"].as_array().map_or(0, Vec::len);
        Reply::text(&format!("This request carried {n} messages."))
    }));
    with_model(
        &mut org,
        fake.base_url(),
        Duration::from_secs(5),
        ChatSettings::default(),
    );
    let (viewer, _) = org.login("viewer@example.com").await;
    let first = ask(&org, &viewer, json!({"message": "what is specific yield?"})).await;
    let id = first.body["conversation_id"].as_str().unwrap().to_owned();
    let r = ask(
        &org,
        &viewer,
        json!({"message": "and the performance index?", "conversation_id": id}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let sent = fake.requests().last().cloned().unwrap();
    let texts: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert!(texts.contains(&"what is specific yield?"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with("This request carried")),
        "{texts:?}"
    );
    assert_eq!(texts.last(), Some(&"and the performance index?"));
    // Someone else's conversation id is not found, as for an unknown one.
    let (tech, _) = org.login("tech@example.com").await;
    let r = ask(&org, &tech, json!({"message": "hi", "conversation_id": id})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn confirmed_snoozes_and_maintenance_windows_run_under_the_manage_rule() {
    let org = Org::new().await;
    let (manager, _) = org.login("manager@example.com").await;
    let r = ask(
        &org,
        &manager,
        json!({"message": "snooze System A for 3 hours"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = &r.body["proposed_actions"][0];
    assert_eq!(p["action"], "snooze_system", "{}", r.body);
    assert_eq!(p["system_id"], "A");
    let status = org
        .call("GET", "/api/systems/A/status", Some(&manager), None)
        .await;
    assert_ne!(
        status.status,
        StatusCode::OK,
        "nothing is written before the confirmation"
    );
    let c = org
        .call("POST", p["confirm"].as_str().unwrap(), Some(&manager), None)
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(c.body["status"], "confirmed");
    let until = c.body["system_status"]["snoozed_until"].as_str().unwrap();
    let until: jiff::Timestamp = until.parse().unwrap();
    let hours = (until - jiff::Timestamp::now()).as_secs_f64() / 3600.0;
    assert!((2.9..3.1).contains(&hours), "{hours}");

    let r = ask(
        &org,
        &manager,
        json!({"message": "open a maintenance window on System A for 6 hours"}),
    )
    .await;
    let p = &r.body["proposed_actions"][0];
    assert_eq!(p["action"], "plan_maintenance", "{}", r.body);
    let c = org
        .call("POST", p["confirm"].as_str().unwrap(), Some(&manager), None)
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(
        c.body["system_status"]["maintenance"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{}",
        c.body
    );
    // A technician may not manage the system: no proposal.
    let (tech, _) = org.login("tech@example.com").await;
    let r = ask(
        &org,
        &tech,
        json!({"message": "snooze System A for 3 hours"}),
    )
    .await;
    assert_eq!(r.body["proposed_actions"], json!([]), "{}", r.body);
}

#[tokio::test]
async fn expired_conversations_are_hidden_and_swept() {
    let mut org = Org::new().await;
    org.state.chat = ChatSettings {
        retention_days: 1,
        ..ChatSettings::default()
    };
    org.app = moose_api::router(org.state.clone(), HttpLimits::default());
    let (viewer, _) = org.login("viewer@example.com").await;
    let old = ask(&org, &viewer, json!({"message": "what is specific yield?"})).await;
    let id = old.body["conversation_id"].as_str().unwrap().to_owned();
    // Age it by two days, as its last message would.
    let conn = rusqlite::Connection::open(&org.db).unwrap();
    let two_days_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48)).to_string();
    let sk = format!("Conv#{id}");
    let attrs: String = conn
        .query_row("SELECT attrs FROM items WHERE sk = ?1", [&sk], |r| r.get(0))
        .unwrap();
    let mut a: Value = serde_json::from_str(&attrs).unwrap();
    a["updated_at"] = json!(two_days_ago);
    conn.execute(
        "UPDATE items SET attrs = ?1, gsi1sk = ?2 WHERE sk = ?3",
        rusqlite::params![a.to_string(), format!("{two_days_ago}#x#{id}"), sk],
    )
    .unwrap();
    let list = org
        .call("GET", "/api/chat/conversations", Some(&viewer), None)
        .await;
    assert_eq!(list.body["conversations"], json!([]), "{}", list.body);
    assert_eq!(
        org.call(
            "GET",
            &format!("/api/chat/conversations/{id}"),
            Some(&viewer),
            None
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // The next chat request sweeps it from the store, messages and all (a process sweeps at
    // most once a minute: pretend the minute since the first request has passed).
    *org.state.chat_swept.lock().unwrap() = None;
    ask(&org, &viewer, json!({"message": "hello"})).await;
    let left: Vec<String> = org
        .snapshot()
        .into_iter()
        .filter(|l| l.contains(&id))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn malformed_tool_arguments_go_back_to_the_model_as_an_error_not_a_crash() {
    let mut org = Org::new().await;
    let fake = FakeOpenAi::start(Some("sk-test"), 8).await;
    fake.push([
        Reply::tool_calls(
            &[("get_energy", "{\"system\": \"A\", \"from\":")],
            moose_fakes::openai::Style::OpenAi,
        ),
        Reply::tool_calls(
            &[("no_such_tool", "{}")],
            moose_fakes::openai::Style::Ollama,
        ),
        Reply::text("I could not read the energy data just now."),
    ]);
    with_model(
        &mut org,
        fake.base_url(),
        Duration::from_secs(5),
        ChatSettings::default(),
    );
    let (viewer, _) = org.login("viewer@example.com").await;
    let r = ask(
        &org,
        &viewer,
        json!({"message": "how much did System A produce today?"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["mode"], "model", "{}", r.body);
    let sent = fake.requests();
    assert_eq!(sent.len(), 3);
    let tool_msg = |n: usize| {
        sent[n]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["role"] == "tool")
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert!(
        tool_msg(1).contains("arguments are not valid JSON"),
        "{}",
        tool_msg(1)
    );
    assert!(tool_msg(2).contains("no tool named"), "{}", tool_msg(2));
}
