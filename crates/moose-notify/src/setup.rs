//! Building the dispatcher's channels and the outbox planner from the configuration, the same
//! way on every host.

use std::sync::Arc;
use std::time::Duration;

use moose_auth::AuthService;
use moose_config::{Config, NotifyConfig};
use moose_incidents::{IncidentRepo, Rules, StatusJob};
use moose_solardata::SolarRepo;
use moose_solarweb::SolarWebClient;
use moose_store::Store;

use crate::channels::DeliveryError;
use crate::dispatch::{DispatchSettings, Dispatcher, Senders};
use crate::planner::OutboxPlanner;
use crate::repo::NotifyRepo;
use crate::{
    EmailSender, SmtpSettings, SmtpTls, SnsSender, SnsSettings, WebhookSender, WebhookSettings,
};

/// The channels `config` enables. E-mail needs an SMTP host; SMS and the operations topic need
/// an SNS topic ARN; webhooks are always available (each user sets their own URL).
pub async fn senders(config: &NotifyConfig) -> Result<Senders, DeliveryError> {
    let email = match &config.smtp_host {
        Some(host) => Some(EmailSender::new(&SmtpSettings {
            host: host.clone(),
            port: u16::try_from(config.smtp_port).unwrap_or(587),
            username: config.smtp_username.clone(),
            password: config.smtp_password.clone(),
            from: config.smtp_from.clone(),
            tls: match config.smtp_tls.as_str() {
                "none" => SmtpTls::None,
                "tls" => SmtpTls::Tls,
                _ => SmtpTls::StartTls,
            },
        })?),
        None => None,
    };
    let sns = match &config.sns_topic_arn {
        Some(_) => Some(
            SnsSender::connect(&SnsSettings {
                endpoint: config.aws_endpoint.clone(),
                region: None,
            })
            .await,
        ),
        None => None,
    };
    Ok(Senders {
        email,
        webhook: Some(WebhookSender::new(WebhookSettings {
            allow_private: config.allow_private_webhooks,
            timeout: Duration::from_secs(10),
        })),
        sns,
        ops_topic_arn: config.sns_topic_arn.clone(),
    })
}

/// The outbox planner every incident change goes through.
pub fn planner(config: &Config, store: &Arc<dyn Store>, auth: &AuthService) -> OutboxPlanner {
    OutboxPlanner {
        auth: auth.clone(),
        repo: NotifyRepo::new(Arc::clone(store)),
        public_url: config.notify.public_url.clone(),
        ops_topic: config.notify.sns_topic_arn.is_some(),
    }
}

/// The `device-status-polling` job over `client`, writing notifications through [`planner`].
pub fn status_job(
    config: &Config,
    store: &Arc<dyn Store>,
    client: SolarWebClient,
    auth: &AuthService,
) -> StatusJob {
    StatusJob {
        client,
        solar: SolarRepo::new(Arc::clone(store)),
        incidents: IncidentRepo::new(Arc::clone(store)),
        rules: Rules::default(),
        planner: Arc::new(planner(config, store, auth)),
        concurrency: usize::try_from(config.poll.concurrency).unwrap_or(8),
    }
}

/// The `notify-user` dispatcher with the channels the configuration enables.
pub async fn dispatcher(
    config: &Config,
    store: &Arc<dyn Store>,
    auth: &AuthService,
) -> Result<Dispatcher, DeliveryError> {
    Ok(Dispatcher {
        repo: NotifyRepo::new(Arc::clone(store)),
        incidents: IncidentRepo::new(Arc::clone(store)),
        auth: auth.clone(),
        senders: senders(&config.notify).await?,
        settings: DispatchSettings {
            lease: jiff::SignedDuration::from_secs(
                i64::try_from(config.jobs.notify_lease_secs).unwrap_or(120),
            ),
            ..DispatchSettings::default()
        },
    })
}
