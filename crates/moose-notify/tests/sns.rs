//! SNS delivery against moto_server, which stands in for AWS (SNS and SQS on one port).
//!
//! A topic gets an SQS queue subscribed with raw message delivery, so what `publish_to_topic`
//! sent can be read back exactly. SQS is spoken through its query protocol with plain form
//! posts, which keeps aws-sdk-sqs (a long compile) out of the build.

use std::time::{Duration, Instant};

use aws_sdk_sns::Client;
use moose_notify::{DeliveryError, OutgoingMessage, SnsSender, SnsSettings};
use reqwest::Url;
use serde_json::json;

fn endpoint() -> String {
    std::env::var("MOOSE_TEST_AWS_ENDPOINT")
        .or_else(|_| std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT"))
        .unwrap_or_else(|_| {
            panic!(
                "MOOSE_TEST_AWS_ENDPOINT is not set: run the tests through ./scripts/test, which \
                 starts moto_server and points it there"
            )
        })
}

/// A name no earlier run against the same moto used.
fn unique(prefix: &str) -> String {
    let nanos = jiff::Timestamp::now().as_nanosecond();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

async fn setup() -> (SnsSender, Client) {
    let settings = SnsSettings {
        endpoint: Some(endpoint()),
        region: Some("us-east-1".to_owned()),
    };
    let sender = SnsSender::connect(&settings).await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    (sender, Client::new(&config))
}

/// One SQS query-protocol call; returns the XML response.
async fn sqs(params: &[(&str, &str)]) -> String {
    let mut form = Url::parse("http://form.invalid/").unwrap();
    form.query_pairs_mut()
        .extend_pairs(params)
        .append_pair("Version", "2012-11-05");
    let response = reqwest::Client::new()
        .post(endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        // moto routes a request by the service named in the credential scope; it does not
        // check the signature itself.
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=moose-test/20260101/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(form.query().unwrap_or_default().to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status.is_success(),
        "SQS {params:?} failed: {status} {text}"
    );
    text
}

/// The text of every `<tag>…</tag>` in `xml`, unescaped.
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(value, _)| value))
        .map(|v| {
            v.replace("&quot;", "\"")
                .replace("&#x27;", "'")
                .replace("&apos;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// A topic with a fresh SQS queue subscribed (raw delivery); returns topic ARN and queue URL.
async fn topic_with_queue(client: &Client, fifo: bool) -> (String, String) {
    let suffix = if fifo { ".fifo" } else { "" };
    let mut create = client
        .create_topic()
        .name(format!("{}{suffix}", unique("moose-notify-topic")));
    if fifo {
        create = create.attributes("FifoTopic", "true");
    }
    let topic_arn = create.send().await.unwrap().topic_arn.unwrap();

    let queue_name = format!("{}{suffix}", unique("moose-notify-queue"));
    let mut params = vec![
        ("Action", "CreateQueue"),
        ("QueueName", queue_name.as_str()),
    ];
    if fifo {
        params.extend([
            ("Attribute.1.Name", "FifoQueue"),
            ("Attribute.1.Value", "true"),
        ]);
    }
    let created = sqs(&params).await;
    let queue_url = xml_values(&created, "QueueUrl").pop().expect("QueueUrl");
    let attrs = sqs(&[
        ("Action", "GetQueueAttributes"),
        ("QueueUrl", &queue_url),
        ("AttributeName.1", "QueueArn"),
    ])
    .await;
    let queue_arn = xml_values(&attrs, "Value").pop().expect("QueueArn");
    client
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    (topic_arn, queue_url)
}

/// Receives messages until one arrives (or 10 s pass); returns the raw XML.
async fn receive(queue_url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let xml = sqs(&[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", queue_url),
            ("MaxNumberOfMessages", "10"),
            ("MessageAttributeName.1", "All"),
        ])
        .await;
        if xml.contains("<Message>") {
            return xml;
        }
        assert!(Instant::now() < deadline, "nothing arrived on {queue_url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

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
