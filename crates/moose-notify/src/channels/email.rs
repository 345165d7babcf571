//! E-mail over SMTP.
//!
//! One plain-text mail per recipient. The idempotency key becomes the `Message-ID`, so a mail
//! sent twice after an ambiguous failure (the server accepted it but the connection dropped
//! before we saw the `250`) shows up once in clients that deduplicate by Message-ID.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use moose_domain::Secret;

use super::{DeliveryError, error_chain, safe_token};
use crate::OutgoingMessage;

/// How long one SMTP conversation may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to hand mail to the relay.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// Relay host name (or address).
    pub host: String,
    /// Relay port (commonly 25, 587 for STARTTLS, 465 for implicit TLS).
    pub port: u16,
    /// User name for SMTP AUTH; `None` sends without authenticating.
    pub username: Option<String>,
    /// Password for SMTP AUTH, used only together with `username`.
    pub password: Option<Secret>,
    /// Sender address, e.g. `Moose <alerts@example.com>`.
    pub from: String,
    /// Transport security.
    pub tls: SmtpTls,
}

/// Transport security towards the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text. Only for a relay on the same host or a test server.
    None,
    /// Plain connection upgraded with `STARTTLS`, which must succeed.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Tls,
}

/// Sends [`OutgoingMessage`]s as e-mail through one SMTP relay.
#[derive(Debug, Clone)]
pub struct EmailSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl EmailSender {
    /// A sender for `settings`. Connects lazily: a wrong host shows up on the first send.
    ///
    /// Fails permanently when the sender address or the relay host name is invalid, since no
    /// retry can fix configuration.
    pub fn new(settings: &SmtpSettings) -> Result<Self, DeliveryError> {
        let from: Mailbox = settings.from.parse().map_err(|err| {
            DeliveryError::Permanent(format!(
                "invalid sender e-mail address {:?}: {err}",
                settings.from
            ))
        })?;
        let invalid_host = |err: lettre::transport::smtp::Error| {
            DeliveryError::Permanent(format!(
                "invalid SMTP relay {:?}: {}",
                settings.host,
                error_chain(&err)
            ))
        };
        let mut builder = match settings.tls {
            SmtpTls::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
            }
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)
                    .map_err(invalid_host)?
            }
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host).map_err(invalid_host)?
            }
        }
        .port(settings.port)
        .timeout(Some(SMTP_TIMEOUT));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    /// Connects to the relay and greets it (EHLO, STARTTLS or TLS, authentication as
    /// configured), sending nothing: `moose doctor`'s check.
    pub async fn check(&self) -> Result<(), DeliveryError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DeliveryError::transient(
                "the SMTP server did not accept the connection",
            )),
            Err(err) => Err(classify(&err)),
        }
    }

    /// Sends `msg` to `to` as a plain-text mail.
    ///
    /// A malformed recipient and SMTP `5xx` replies are permanent; `4xx` replies, connection
    /// failures and timeouts are transient.
    pub async fn send(&self, to: &str, msg: &OutgoingMessage) -> Result<(), DeliveryError> {
        let to_box: Mailbox = to.parse().map_err(|err| {
            DeliveryError::Permanent(format!("invalid recipient e-mail address {to:?}: {err}"))
        })?;
        let mail = Message::builder()
            .from(self.from.clone())
            .to(to_box)
            .subject(one_line(&msg.subject))
            .message_id(Some(message_id(&msg.idempotency_key)))
            .header(MooseEvent(one_line(&msg.event)))
            .header(ContentType::TEXT_PLAIN)
            .body(msg.text_with_link())
            .map_err(|err| DeliveryError::Permanent(format!("cannot build the e-mail: {err}")))?;
        match self.transport.send(mail).await {
            Ok(_) => Ok(()),
            Err(err) => Err(classify(&err)),
        }
    }
}

/// Maps an SMTP failure by its reply class: RFC 5321 makes `4xx` "try again later" and `5xx`
/// "do not repeat". Failures without a reply (refused, reset, timeout, TLS) may be the relay
/// restarting, so they are transient too.
fn classify(err: &lettre::transport::smtp::Error) -> DeliveryError {
    let detail = error_chain(err);
    if err.is_permanent() {
        DeliveryError::Permanent(format!("SMTP relay rejected the mail: {detail}"))
    } else if err.is_client() {
        // Our side cannot speak to this relay as configured (e.g. no common AUTH mechanism).
        DeliveryError::Permanent(format!("SMTP client error: {detail}"))
    } else if err.is_transient() {
        DeliveryError::transient(format!("SMTP relay deferred the mail: {detail}"))
    } else {
        DeliveryError::transient(format!("SMTP delivery failed: {detail}"))
    }
}

/// `<key@moose>`, with the key reduced to RFC 5322 `atext` so that any key gives a valid
/// msg-id (dots are dropped too: they may not lead, trail or repeat in a dot-atom).
fn message_id(key: &str) -> String {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    format!("<{}@moose>", safe_token(key, atext, 200))
}

/// `value` without line breaks or other control characters, which have no place in a header.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// The `X-Moose-Event` header, so that mail rules can filter by event without parsing text.
#[derive(Debug, Clone)]
struct MooseEvent(String);

impl Header for MooseEvent {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Moose-Event")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_valid_for_any_key() {
        assert_eq!(message_id("inc-42-opened"), "<inc-42-opened@moose>");
        let odd = message_id("inc 42:opened <a@b>.x");
        assert!(odd.starts_with("<inc-42-opened--a-b--x-"), "{odd}");
        assert!(odd.ends_with("@moose>"));
        assert_eq!(odd.matches('@').count(), 1);
    }

    #[test]
    fn invalid_sender_is_permanent() {
        let settings = SmtpSettings {
            host: "localhost".to_owned(),
            port: 25,
            username: None,
            password: None,
            from: "not an address".to_owned(),
            tls: SmtpTls::None,
        };
        let err = EmailSender::new(&settings).unwrap_err();
        assert!(!err.is_transient(), "{err}");
        assert!(err.to_string().contains("sender"), "{err}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let settings = SmtpSettings {
            host: "smtp.example.com".to_owned(),
            port: 587,
            username: Some("moose".to_owned()),
            password: Some(Secret::new("hunter2")),
            from: "alerts@example.com".to_owned(),
            tls: SmtpTls::StartTls,
        };
        let sender = EmailSender::new(&settings).unwrap();
        let shown = format!("{sender:?} {settings:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn one_line_strips_header_injection() {
        assert_eq!(one_line("a\r\nBcc: x@y\n"), "a  Bcc: x@y");
    }
}
