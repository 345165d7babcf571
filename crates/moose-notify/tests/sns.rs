//! SNS delivery against moto_server, which stands in for AWS (SNS and SQS on one port).
//!
//! A topic gets an SQS queue subscribed with raw message delivery, so what `publish_to_topic`
//! sent can be read back exactly. SQS is spoken through its query protocol with plain form
//! posts, which keeps aws-sdk-sqs (a long compile) out of the build.

use moose_notify::testing::{receive, setup, topic_with_queue, unique, xml_values};
use moose_notify::{DeliveryError, OutgoingMessage, SnsSender, SnsSettings};
use serde_json::json;

fn message(key: &str) -> OutgoingMessage {
    OutgoingMessage {
        idempotency_key: key.to_owned(),
        event: "incident.escalated".to_owned(),
        severity: "critical".to_owned(),
        subject: "Escalated: string 2 at Farm Süd down".to_owned(),
        text: "String 2 at Farm Süd has produced nothing for 4 h.".to_owned(),
        link: Some("https://moose.example.com/incidents/7".to_owned()),
        payload: json!({"incident_id": 7}),
    }
}

#[tokio::test]
async fn publishes_to_a_topic_with_attributes() {
    let (sender, client) = setup().await;
    let (topic_arn, queue_url) = topic_with_queue(&client, false).await;
    let key = unique("incident:7:escalated");
    let id = sender
        .publish_to_topic(&topic_arn, &message(&key))
        .await
        .unwrap();
    assert!(!id.is_empty());

    let xml = receive(&queue_url).await;
    assert_eq!(
        xml_values(&xml, "Body"),
        [
            "String 2 at Farm Süd has produced nothing for 4 h.\n\nhttps://moose.example.com/incidents/7"
        ]
    );
    // Attributes come back as Name/Value pairs in document order.
    let names = xml_values(&xml, "Name");
    let values = xml_values(&xml, "StringValue");
    let attr = |name: &str| {
        let i = names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("{name} in {xml}"));
        values[i].clone()
    };
    assert_eq!(attr("idempotency_key"), key);
    assert_eq!(attr("event"), "incident.escalated");
    assert_eq!(attr("severity"), "critical");
}

#[tokio::test]
async fn publishes_to_a_fifo_topic_with_deduplication() {
    let (sender, client) = setup().await;
    let (topic_arn, queue_url) = topic_with_queue(&client, true).await;
    assert!(topic_arn.ends_with(".fifo"));
    // A key longer than SNS's 128-character deduplication id, with characters it refuses.
    let key = format!("{} ü", unique("incident:7").repeat(6));
    sender
        .publish_to_topic(&topic_arn, &message(&key))
        .await
        .unwrap();
    let xml = receive(&queue_url).await;
    assert!(xml.contains("String 2 at Farm Süd"), "{xml}");
}

#[tokio::test]
async fn missing_topic_is_permanent() {
    let (sender, _) = setup().await;
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{}", unique("absent"));
    let err = sender
        .publish_to_topic(&arn, &message("k"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
}

#[tokio::test]
async fn sms_to_valid_and_invalid_numbers() {
    let (sender, _) = setup().await;
    let id = sender
        .send_sms("+14155550123", &message("sms-1"))
        .await
        .unwrap();
    assert!(!id.is_empty());

    let err = sender
        .send_sms("12345", &message("sms-2"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("E.164"), "{err}");
}

#[tokio::test]
async fn unreachable_endpoint_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sender = SnsSender::connect(&SnsSettings {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".to_owned()),
    })
    .await;
    let arn = "arn:aws:sns:us-east-1:123456789012:whatever";
    let err = sender
        .publish_to_topic(arn, &message("k"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}
