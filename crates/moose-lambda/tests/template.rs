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
