//! The AWS deployment template: valid for cfn-lint, and declaring what the old system had.

const TEMPLATE: &str = include_str!("../../../deploy/template.yaml");

#[test]
fn the_template_passes_cfn_lint() {
    let cfn_lint = std::env::var("MOOSE_TEST_CFN_LINT")
        .expect("MOOSE_TEST_CFN_LINT: run ./scripts/test, which installs cfn-lint (pip install cfn-lint) and sets it");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/template.yaml");
    let out = std::process::Command::new(cfn_lint)
        .arg(path)
        .output()
        .expect("cfn-lint runs");
    assert!(
        out.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_template_declares_the_old_functions_variables_and_table() {
    for function in [
        "chat-service",
        "solar-data-service",
        "user-management",
        "device-status-polling",
        "solar-data-polling",
        "notify-user",
    ] {
        assert!(
            TEMPLATE.contains(&format!("FunctionName: {function}")),
            "{function} is declared"
        );
        assert!(
            TEMPLATE.contains(&format!("/aws/lambda/{function}")),
            "{function} has a log group"
        );
    }
    for variable in moose_config::env::OLD_SYSTEM_VARIABLES {
        assert!(
            TEMPLATE.contains(&format!("{variable}:")),
            "{variable} is passed to the functions"
        );
    }
    for part in [
        "Default: Moose-DDB",
        "AttributeName: PK",
        "AttributeName: SK",
        "IndexName: GSI1",
        "rate(5 minutes)",
        "AWS::SNS::Topic",
    ] {
        assert!(TEMPLATE.contains(part), "the template has {part}");
    }
}

/// The `Path`s API Gateway routes to a function, from the template's `Api` events.
fn gateway_paths() -> Vec<(String, String)> {
    TEMPLATE
        .lines()
        .filter(|l| l.contains("Type: Api"))
        .filter_map(|l| {
            let path = l.split("Path: \"").nth(1)?.split('"').next()?.to_owned();
            let method = l
                .split("Method: ")
                .nth(1)?
                .split(' ')
                .next()?
                .trim_end_matches('}')
                .to_owned();
            Some((path, method))
        })
        .collect()
}

/// Whether API Gateway sends `method path` (an OpenAPI path such as `/api/systems/{system}`) to
/// some function: an exact path, or a `{proxy+}` prefix.
fn routed(paths: &[(String, String)], path: &str, method: &str) -> bool {
    paths.iter().any(|(p, m)| {
        let method_ok = m == "ANY" || m.eq_ignore_ascii_case(method);
        let path_ok = match p.strip_suffix("{proxy+}") {
            Some(prefix) => path.starts_with(prefix) && path.len() > prefix.len(),
            None => p == path,
        };
        method_ok && path_ok
    })
}

#[test]
fn every_route_of_the_api_reaches_a_function_through_api_gateway() {
    let paths = gateway_paths();
    assert!(paths.len() >= 10, "{paths:?}");
    let doc = moose_api::openapi();
    let mut missing = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if !routed(&paths, path, method) {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "API Gateway routes these nowhere: {missing:#?}"
    );
}

/// The SAM translator (the code CloudFormation's `AWS::Serverless` transform runs) accepts the
/// template after packaging, and expands it into the six functions, their roles and schedules,
/// and the REST API.
#[test]
fn the_sam_translator_accepts_the_template() {
    let python = std::env::var("MOOSE_TEST_PYTHON").expect(
        "MOOSE_TEST_PYTHON: run ./scripts/test, which installs aws-sam-translator and sets it",
    );
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(python)
        .arg(format!("{dir}/tests/sam_translate.py"))
        .arg(format!("{dir}/../../deploy/template.yaml"))
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the SAM translator refused the template:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resources: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&out.stdout).unwrap();
    let count = |kind: &str| resources.values().filter(|t| *t == kind).count();
    assert_eq!(count("AWS::Lambda::Function"), 6, "{resources:?}");
    assert_eq!(count("AWS::IAM::Role"), 6, "{resources:?}");
    assert_eq!(
        count("AWS::Events::Rule"),
        3,
        "the three schedules: {resources:?}"
    );
    assert_eq!(count("AWS::ApiGateway::RestApi"), 1, "{resources:?}");
}
