//! Following CodeDeploy deployments against a fake speaking CodeDeploy's awsJson1.1 protocol
//! (moto keeps every deployment `Created` forever, so it cannot show a canary's outcome).

use std::time::Duration;

use moose_fakes::codedeploy::{FakeCodeDeploy, Step};
use moose_release::deployments::{self, Follow};

fn client(url: &str) -> aws_sdk_codedeploy::Client {
    let config = aws_sdk_codedeploy::Config::builder()
        .behavior_version(aws_sdk_codedeploy::config::BehaviorVersion::latest())
        .region(aws_sdk_codedeploy::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_codedeploy::config::Credentials::new(
            "moose-test",
            "moose-test",
            None,
            None,
            "test",
        ))
        .endpoint_url(url)
        .build();
    aws_sdk_codedeploy::Client::from_conf(config)
}

#[tokio::test]
async fn following_sees_one_canary_roll_back_on_its_alarm_and_the_other_succeed() {
    let fake = FakeCodeDeploy::start().await;
    let app = "moose-prod-ServerlessDeploymentApplication-1X2Y3Z";
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2);
    fake.add_deployment(
        "d-CHAT00001",
        app,
        "moose-prod-ChatServiceDeploymentGroup-AB",
        vec![
            Step::to("Created"),
            Step::to("InProgress"),
            Step {
                status: "Stopped",
                rollback: Some(
                    "Deployment stopped: alarm ChatServiceNewVersionErrors is in ALARM".into(),
                ),
            },
        ],
    );
    fake.add_deployment(
        "d-API000001",
        app,
        "moose-prod-SolarDataServiceDeploymentGroup-CD",
        vec![
            Step::to("InProgress"),
            Step::to("InProgress"),
            Step::to("Succeeded"),
        ],
    );
    // Another stack's application is not followed.
    fake.add_deployment(
        "d-OTHER0001",
        "other-ServerlessDeploymentApplication-Q",
        "g",
        vec![Step::to("InProgress")],
    );
    let cd = client(fake.url());
    let found = deployments::find_application(&cd, "moose-prod")
        .await
        .unwrap();
    assert_eq!(found.as_deref(), Some(app));
    assert_eq!(
        deployments::find_application(&cd, "nope").await.unwrap(),
        None
    );

    let mut seen = Vec::new();
    let views = deployments::follow(
        &cd,
        app,
        since,
        Follow {
            poll: Duration::from_millis(10),
            timeout: Duration::from_secs(10),
            none_after: Duration::from_secs(5),
        },
        |d| seen.push((d.id.clone(), d.status.clone())),
    )
    .await
    .unwrap();
    assert_eq!(views.len(), 2, "{views:?}");
    let chat = views.iter().find(|d| d.id == "d-CHAT00001").unwrap();
    assert_eq!(chat.status, "Stopped");
    assert!(chat.rolled_back);
    assert!(
        chat.reason
            .as_deref()
            .unwrap()
            .contains("ChatServiceNewVersionErrors")
    );
    assert!(chat.completed.is_some() && chat.created.is_some());
    let api = views.iter().find(|d| d.id == "d-API000001").unwrap();
    assert_eq!((api.status.as_str(), api.rolled_back), ("Succeeded", false));
    let chat_states: Vec<&str> = seen
        .iter()
        .filter(|(id, _)| id == "d-CHAT00001")
        .map(|(_, s)| s.as_str())
        .collect();
    assert_eq!(
        chat_states,
        ["Created", "InProgress", "Stopped"],
        "each change once"
    );
}

#[tokio::test]
async fn following_gives_up_after_its_timeout_and_says_where_each_stood() {
    let fake = FakeCodeDeploy::start().await;
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2);
    fake.add_deployment(
        "d-STUCK0001",
        "s-ServerlessDeploymentApplication-1",
        "ApiGroup",
        vec![Step::to("InProgress")],
    );
    let cd = client(fake.url());
    let err = deployments::follow(
        &cd,
        "s-ServerlessDeploymentApplication-1",
        since,
        Follow {
            poll: Duration::from_millis(20),
            timeout: Duration::from_millis(200),
            none_after: Duration::from_secs(5),
        },
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("ApiGroup InProgress"), "{err}");
    // No deployment at all (no function changed): nothing to follow, after the grace time.
    let none = deployments::follow(
        &cd,
        "empty-app",
        since,
        Follow {
            poll: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
            none_after: Duration::from_millis(50),
        },
        |_| {},
    )
    .await
    .unwrap();
    assert!(none.is_empty());
}
