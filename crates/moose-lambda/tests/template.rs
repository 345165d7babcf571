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

/// The template as the SAM translator (the code CloudFormation's `AWS::Serverless` transform
/// runs) expands it after packaging, with these parameter overrides.
fn translated(overrides: &str) -> serde_json::Map<String, serde_json::Value> {
    let python = std::env::var("MOOSE_TEST_PYTHON").expect(
        "MOOSE_TEST_PYTHON: run ./scripts/test, which installs aws-sam-translator and sets it",
    );
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new(python)
        .arg(format!("{dir}/tests/sam_translate.py"))
        .arg(format!("{dir}/../../deploy/template.yaml"))
        .arg(overrides)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the SAM translator refused the template:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn of_type<'a>(
    resources: &'a serde_json::Map<String, serde_json::Value>,
    kind: &str,
) -> Vec<(&'a String, &'a serde_json::Value)> {
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

/// The translator accepts the template and expands it into the six functions and the hook,
/// their roles and schedules, and the REST API.
#[test]
fn the_sam_translator_accepts_the_template() {
    let resources = translated("{}");
    let count = |kind: &str| of_type(&resources, kind).len();
    assert_eq!(
        count("AWS::Lambda::Function"),
        7,
        "six functions and the hook"
    );
    assert_eq!(
        count("AWS::IAM::Role"),
        8,
        "a role each, and CodeDeploy's service role"
    );
    assert_eq!(count("AWS::Events::Rule"), 3, "the three schedules");
    assert_eq!(count("AWS::ApiGateway::RestApi"), 1);
}

/// Every function deploys as a canary: a published version behind the `live` alias, a
/// CodeDeploy deployment group that watches the new version's three alarms and rolls back on
/// them, the PreTraffic hook before any traffic moves, and every event source on the alias.
#[test]
fn every_function_deploys_as_a_canary_that_rolls_itself_back() {
    let resources = translated("{}");
    let aliases = of_type(&resources, "AWS::Lambda::Alias");
    assert_eq!(aliases.len(), 6);
    for (name, alias) in &aliases {
        assert_eq!(alias["Properties"]["Name"], "live", "{name}");
        let policy = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        assert_eq!(
            policy["BeforeAllowTrafficHook"]["Ref"], "PreTrafficHook",
            "{name}: {alias}"
        );
    }
    let groups = of_type(&resources, "AWS::CodeDeploy::DeploymentGroup");
    assert_eq!(groups.len(), 6);
    for (name, group) in &groups {
        let p = &group["Properties"];
        assert_eq!(p["AlarmConfiguration"]["Enabled"], true, "{name}");
        let alarms: Vec<&str> = p["AlarmConfiguration"]["Alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Name"]["Ref"].as_str().unwrap())
            .collect();
        assert_eq!(alarms.len(), 3, "{name}: {alarms:?}");
        for a in &alarms {
            let alarm = &resources[*a]["Properties"];
            let dims = alarm["Dimensions"].to_string();
            assert!(
                dims.contains("ExecutedVersion") && dims.contains(":live"),
                "{a} watches the new version behind the alias only: {dims}"
            );
            assert_eq!(alarm["TreatMissingData"], "notBreaching", "{a}");
        }
        let events = p["AutoRollbackConfiguration"]["Events"].to_string();
        assert!(
            p["AutoRollbackConfiguration"]["Enabled"] == true
                && events.contains("DEPLOYMENT_STOP_ON_ALARM")
                && events.contains("DEPLOYMENT_FAILURE"),
            "{name}: {p}"
        );
        assert!(
            p["DeploymentConfigName"]
                .to_string()
                .contains("Canary10Percent5Minutes"),
            "{name}: a canary by default: {}",
            p["DeploymentConfigName"]
        );
    }
    for (name, rule) in of_type(&resources, "AWS::Events::Rule") {
        let arn = rule["Properties"]["Targets"][0]["Arn"]["Ref"]
            .as_str()
            .unwrap_or("");
        assert!(
            arn.ends_with("Aliaslive"),
            "{name} invokes the alias: {arn}"
        );
    }
    for (name, permission) in of_type(&resources, "AWS::Lambda::Permission") {
        let target = permission["Properties"]["FunctionName"]["Ref"]
            .as_str()
            .unwrap_or("");
        assert!(
            target.ends_with("Aliaslive"),
            "{name} allows the alias: {target}"
        );
    }
    let hook = &resources["PreTrafficHook"]["Properties"];
    assert!(
        hook["FunctionName"]
            .as_str()
            .unwrap()
            .starts_with("CodeDeployHook_"),
        "CodeDeploy's role may invoke only CodeDeployHook_* functions"
    );
    let targets = hook["Environment"]["Variables"]["MOOSE_HOOK_TARGETS"].to_string();
    assert_eq!(
        targets.matches("Version").count(),
        6,
        "the hook checks the six new versions: {targets}"
    );
    assert!(
        !resources
            .keys()
            .any(|k| k.starts_with("PreTrafficHookAlias")),
        "the hook itself is not deployed through CodeDeploy"
    );
}

/// The deployment type is chosen per release (`--parameter-overrides DeploymentType=AllAtOnce`).
#[test]
fn the_deployment_type_is_a_parameter() {
    let resources = translated(r#"{"DeploymentType": "AllAtOnce"}"#);
    for (name, group) in of_type(&resources, "AWS::CodeDeploy::DeploymentGroup") {
        let config = group["Properties"]["DeploymentConfigName"].to_string();
        assert!(
            config.contains("AllAtOnce") && !config.contains("Canary"),
            "{name}: {config}"
        );
    }
}
