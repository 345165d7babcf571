//! The AWS clients of a release, from the default credential chain.

use aws_config::BehaviorVersion;

use crate::ReleaseError;

/// Lambda and CodeDeploy clients sharing one configuration.
#[derive(Debug, Clone)]
pub struct Aws {
    /// Versions, aliases, invocations.
    pub lambda: aws_sdk_lambda::Client,
    /// Deployments and hook reports.
    pub codedeploy: aws_sdk_codedeploy::Client,
}

impl Aws {
    /// Loads the default chain (environment, profile, role). `endpoint` overrides every
    /// service's endpoint (a local emulator); `AWS_ENDPOINT_URL_LAMBDA` and
    /// `AWS_ENDPOINT_URL_CODEDEPLOY` override one each, as in every AWS SDK.
    pub async fn connect(
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Result<Self, ReleaseError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(e) = endpoint {
            loader = loader.endpoint_url(e);
        }
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_owned()));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(ReleaseError::Setting(
                "no AWS region: set AWS_REGION (or --region)".into(),
            ));
        }
        Ok(Self {
            lambda: aws_sdk_lambda::Client::new(&config),
            codedeploy: aws_sdk_codedeploy::Client::new(&config),
        })
    }
}
