//! E-mail delivery against a real SMTP server: aiosmtpd from the test virtualenv, started on a
//! free loopback port for each test.

use moose_notify::{DeliveryError, EmailSender, OutgoingMessage};
use serde_json::json;

mod support;

use support::{SmtpServer, free_port, settings};

fn message() -> OutgoingMessage {
    OutgoingMessage {
        idempotency_key: "incident:42/opened:user-7".to_owned(),
        event: "incident.opened".to_owned(),
        severity: "critical".to_owned(),
        subject: "Inverter offline at Farm North".to_owned(),
        text: "Inverter 3 at Farm North has reported no data since 10:15.".to_owned(),
        link: Some("https://moose.example.com/incidents/42".to_owned()),
        payload: json!({"incident": 42}),
    }
}

/// The value of header `name` in the raw mail (single-line headers only).
fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let head = mail.split("\n\n").next().unwrap();
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

#[tokio::test]
async fn delivers_a_plain_text_mail_with_stable_message_id() {
    let server = SmtpServer::mailbox();
    server
        .sender()
        .send("Operator <ops@example.com>", &message())
        .await
        .expect("delivered");

    let mail = server.wait_for_mail().replace("\r\n", "\n");
    assert_eq!(
        header(&mail, "Subject"),
        Some("Inverter offline at Farm North")
    );
    assert_eq!(header(&mail, "To"), Some("Operator <ops@example.com>"));
    assert_eq!(
        header(&mail, "From"),
        Some("\"Moose Alerts\" <alerts@moose.test>")
    );
    let id = header(&mail, "Message-ID").expect("Message-ID");
    // ':' is not allowed in a msg-id ('/' is), so the key is sanitised and a hash appended.
    assert!(id.starts_with("<incident-42/opened-user-7-"), "{id}");
    assert!(id.ends_with("@moose>"), "{id}");
    assert_eq!(header(&mail, "X-Moose-Event"), Some("incident.opened"));
    assert!(
        header(&mail, "Content-Type")
            .unwrap()
            .starts_with("text/plain")
    );
    let body = mail.split_once("\n\n").unwrap().1;
    assert_eq!(
        body.trim_end(),
        "Inverter 3 at Farm North has reported no data since 10:15.\n\n\
         https://moose.example.com/incidents/42"
    );
}

#[tokio::test]
async fn message_id_is_the_same_for_a_resend() {
    let first = SmtpServer::mailbox();
    first
        .sender()
        .send("ops@example.com", &message())
        .await
        .unwrap();
    let second = SmtpServer::mailbox();
    second
        .sender()
        .send("ops@example.com", &message())
        .await
        .unwrap();
    let id = |mail: &str| header(mail, "Message-ID").unwrap().to_owned();
    let a = first.wait_for_mail().replace("\r\n", "\n");
    let b = second.wait_for_mail().replace("\r\n", "\n");
    assert_eq!(id(&a), id(&b));
}

#[tokio::test]
async fn closed_port_is_transient() {
    let sender = EmailSender::new(&settings(free_port())).unwrap();
    let err = sender
        .send("ops@example.com", &message())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn invalid_recipient_is_permanent() {
    let server = SmtpServer::mailbox();
    let err = server
        .sender()
        .send("not an address", &message())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("recipient"), "{err}");
    assert!(
        !server.maildir.join("new").exists()
            || server
                .maildir
                .join("new")
                .read_dir()
                .unwrap()
                .next()
                .is_none()
    );
}

#[tokio::test]
async fn smtp_5xx_is_permanent_and_4xx_transient() {
    let rejecting = SmtpServer::rejecting("550 5.1.1 no such user");
    let err = rejecting
        .sender()
        .send("ghost@example.com", &message())
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("550"), "{err}");

    let deferring = SmtpServer::rejecting("451 4.3.0 try again later");
    let err = deferring
        .sender()
        .send("ops@example.com", &message())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("451"), "{err}");
}
