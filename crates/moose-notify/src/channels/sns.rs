//! AWS SNS: publishing to topics and sending SMS.
//!
//! SNS retries throttling and network errors inside the SDK already; what still fails is
//! reported as a [`DeliveryError`] so the dispatcher can decide about a later attempt.

use aws_config::BehaviorVersion;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;

use super::{DeliveryError, safe_token};
use crate::OutgoingMessage;

/// SNS allows at most 100 ASCII characters in a subject.
const MAX_SUBJECT: usize = 100;
/// One SMS segment in the GSM 7-bit alphabet; longer texts are split and billed per part.
const MAX_SMS: usize = 160;
/// SNS's limit for a FIFO deduplication id.
const MAX_DEDUP_ID: usize = 128;

/// Where to reach SNS.
#[derive(Debug, Clone, Default)]
pub struct SnsSettings {
    /// Endpoint override (a local SNS-compatible server); `None` for AWS.
    pub endpoint: Option<String>,
    /// Region override; default from the environment (`AWS_REGION`), else `us-east-1`.
    pub region: Option<String>,
}

/// Publishes [`OutgoingMessage`]s to SNS topics and phone numbers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SnsSender {
    client: Client,
}

impl SnsSender {
    /// Connects with the default AWS credential chain (environment, Lambda role, profile).
    pub async fn connect(settings: &SnsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let region = settings
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let config = loader.region(aws_config::Region::new(region)).load().await;
        Self::new(Client::new(&config))
    }

    /// Over an existing client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Whether the topic exists and these credentials may read it (`GetTopicAttributes`):
    /// `moose doctor`'s check. The error says what failed, without secrets.
    pub async fn check_topic(&self, topic_arn: &str) -> Result<(), String> {
        match self
            .client
            .get_topic_attributes()
            .topic_arn(topic_arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match e.as_service_error() {
                Some(s) => s.to_string(),
                None => "cannot reach SNS".to_owned(),
            }),
        }
    }

    /// Publishes `msg` to the topic `topic_arn` and returns SNS's message id.
    ///
    /// The message attributes `event`, `severity` and `idempotency_key` let subscribers filter
    /// and deduplicate. On FIFO topics (`….fifo`) the idempotency key also becomes the
    /// deduplication id, so SNS itself drops a resend within its five-minute window.
    pub async fn publish_to_topic(
        &self,
        topic_arn: &str,
        msg: &OutgoingMessage,
    ) -> Result<String, DeliveryError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .message(msg.text_with_link());
        let subject = sns_subject(&msg.subject);
        if !subject.is_empty() {
            request = request.subject(subject);
        }
        for (name, value) in [
            ("event", &msg.event),
            ("severity", &msg.severity),
            ("idempotency_key", &msg.idempotency_key),
        ] {
            // SNS rejects empty attribute values; an absent attribute says the same.
            if !value.is_empty() {
                request = request.message_attributes(name, string_attribute(value)?);
            }
        }
        if topic_arn.ends_with(".fifo") {
            request = request
                .message_deduplication_id(dedup_id(&msg.idempotency_key))
                .message_group_id("moose");
        }
        let output = request
            .send()
            .await
            .map_err(|err| map_sdk_error("publish to topic", &err))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    /// Sends `msg` as one SMS to `phone_e164` (`+` and 8–15 digits) and returns SNS's message
    /// id. The text is the subject and the link, cut to one 160-character segment.
    pub async fn send_sms(
        &self,
        phone_e164: &str,
        msg: &OutgoingMessage,
    ) -> Result<String, DeliveryError> {
        if !is_e164(phone_e164) {
            return Err(DeliveryError::Permanent(format!(
                "phone number {phone_e164:?} is not in E.164 form (+ and 8 to 15 digits)"
            )));
        }
        let output = self
            .client
            .publish()
            .phone_number(phone_e164)
            .message(sms_text(&msg.subject, msg.link.as_deref()))
            .send()
            .await
            .map_err(|err| map_sdk_error("send SMS", &err))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, DeliveryError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|err| DeliveryError::Permanent(format!("invalid SNS message attribute: {err}")))
}

/// The idempotency key as a FIFO deduplication id: at most 128 characters of visible ASCII.
fn dedup_id(key: &str) -> String {
    safe_token(key, |c| c.is_ascii_graphic(), MAX_DEDUP_ID)
}

/// `subject` as SNS accepts it: ASCII without control characters, at most 100 characters.
fn sns_subject(subject: &str) -> String {
    let ascii: String = subject
        .chars()
        .map(|c| match c {
            c if c.is_ascii_graphic() => c,
            c if c.is_whitespace() || c.is_control() => ' ',
            // SNS refuses the whole publish over one non-ASCII character in the subject.
            _ => '?',
        })
        .collect();
    let trimmed = ascii.trim();
    truncate_words(trimmed, MAX_SUBJECT)
}

/// `+`, a non-zero digit, and 8 to 15 digits in all (ITU-T E.164).
fn is_e164(phone: &str) -> bool {
    phone.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// Subject and link in one SMS. The link is kept whole if it leaves room for some subject
/// (a cut link is useless); otherwise it is dropped and the subject gets all the room.
fn sms_text(subject: &str, link: Option<&str>) -> String {
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    match link {
        Some(link) if link.chars().count() + 1 + 20 <= MAX_SMS => {
            let room = MAX_SMS - link.chars().count() - 1;
            format!("{} {link}", truncate_words(&subject, room))
        }
        _ => truncate_words(&subject, MAX_SMS),
    }
}

/// `text` cut to at most `max` characters, at a word boundary when one is near the end, with
/// `...` marking the cut (three dots rather than `…`, which is not in the GSM 7-bit alphabet
/// and would force an SMS into 70-character UCS-2 segments).
fn truncate_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep: String = text.chars().take(max.saturating_sub(3)).collect();
    let cut = match keep.rfind(' ') {
        Some(space) if space >= keep.len() / 2 => &keep[..space],
        _ => keep.as_str(),
    };
    format!("{}...", cut.trim_end())
}

/// Sorts an SDK failure into retryable or not. Throttling, server errors and anything that
/// never got an answer (timeouts, dispatch failures) may pass; a bad request will not.
fn map_sdk_error<E>(action: &str, err: &SdkError<E>) -> DeliveryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    const TRANSIENT_CODES: [&str; 7] = [
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "KMSThrottling",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    ];
    match err {
        SdkError::ServiceError(context) => {
            let code = err.code().unwrap_or("unknown");
            let message = err.message().unwrap_or("no message");
            let status = context.raw().status().as_u16();
            let reason = format!("SNS could not {action}: {code} (HTTP {status}): {message}");
            // ExpiredToken: the credential provider will fetch fresh ones for the next try.
            if TRANSIENT_CODES.contains(&code) || code == "ExpiredToken" || status >= 500 {
                DeliveryError::transient(reason)
            } else {
                // NotFound, InvalidParameter, AuthorizationError, EndpointDisabled, OptedOut, …
                DeliveryError::Permanent(reason)
            }
        }
        SdkError::ConstructionFailure(_) => DeliveryError::Permanent(format!(
            "SNS request to {action} could not be built: {}",
            super::error_chain(err)
        )),
        _ => DeliveryError::transient(format!(
            "SNS could not {action}: {}",
            super::error_chain(err)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        for ok in ["+14155550123", "+4915123456789", "+12345678"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "12345",
            "+1234567",
            "+1234567890123456",
            "+0123456789",
            "+1 415 555",
            "",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn subjects_are_ascii_and_short() {
        assert_eq!(
            sns_subject("Wechselrichter ausgefällt\n"),
            "Wechselrichter ausgef?llt"
        );
        let long = sns_subject(&"word ".repeat(40));
        assert!(
            long.len() <= MAX_SUBJECT && long.ends_with("word..."),
            "{long}"
        );
    }

    #[test]
    fn sms_keeps_the_link_whole() {
        let link = "https://moose.example.com/i/42";
        let text = sms_text(&"Inverter offline at site ".repeat(10), Some(link));
        assert!(text.chars().count() <= MAX_SMS, "{text}");
        assert!(text.ends_with(&format!("... {link}")), "{text}");
        assert_eq!(sms_text("Short", Some(link)), format!("Short {link}"));
        let huge = format!("https://x/{}", "a".repeat(200));
        assert_eq!(sms_text("Short", Some(&huge)), "Short");
    }

    #[test]
    fn dedup_ids_fit() {
        assert_eq!(dedup_id("inc-1:opened"), "inc-1:opened");
        assert_eq!(dedup_id(&"k".repeat(300)).len(), MAX_DEDUP_ID);
        assert!(dedup_id("a b").chars().all(|c| c.is_ascii_graphic()));
    }
}
