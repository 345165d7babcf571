//! Turning Lambda payloads into HTTP requests the router understands.

use lambda_http::request::LambdaRequest;
use serde_json::{Value, json};

/// Drops the API Gateway stage, and completes the old system's bare invoke payload (`{"httpMethod":"GET","path":"/health"}`,
/// what its release checklist sends with `aws lambda invoke`) into a REST API (v1) proxy event;
/// full API Gateway events pass through unchanged.
pub(crate) fn normalize(mut payload: Value) -> Value {
    let bare_v1 = payload.get("httpMethod").is_some() && payload.get("requestContext").is_none();
    if let (true, Some(obj)) = (bare_v1, payload.as_object_mut()) {
        let method = obj.get("httpMethod").cloned().unwrap_or(json!("GET"));
        let path = obj.get("path").cloned().unwrap_or(json!("/"));
        obj.entry("resource").or_insert_with(|| path.clone());
        obj.entry("headers").or_insert_with(|| json!({}));
        obj.entry("multiValueHeaders").or_insert_with(|| json!({}));
        obj.entry("isBase64Encoded").or_insert(json!(false));
        obj.insert(
            "requestContext".into(),
            json!({"httpMethod": method, "path": path, "resourcePath": path, "requestId": "direct-invoke", "identity": {}}),
        );
    }
    // Moose's routes never include an API Gateway stage, so the stage is dropped rather than
    // prefixed to the path (what AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH would do, without relying
    // on the function's environment).
    if let Some(context) = payload
        .get_mut("requestContext")
        .and_then(Value::as_object_mut)
    {
        context.remove("stage");
    }
    payload
}

/// The API Gateway event in `payload`, or a clear error naming what is wrong with it.
pub(crate) fn http_request(payload: Value) -> anyhow::Result<LambdaRequest> {
    serde_json::from_value(normalize(payload))
        .map_err(|e| anyhow::anyhow!("this function expects an API Gateway proxy event (REST or HTTP API), or {{\"httpMethod\",\"path\"}}: {e}"))
}

/// Whether `payload` is an HTTP `GET /health…` (REST, HTTP API or the bare payload): the
/// background functions answer it too — every function answers `GET /health`, and the
/// PreTraffic hook checks each new version that way — instead of running a pass.
pub(crate) fn is_health_request(payload: &Value) -> bool {
    let method = payload
        .get("httpMethod")
        .or_else(|| payload.pointer("/requestContext/http/method"))
        .and_then(Value::as_str);
    let path = payload
        .get("path")
        .or_else(|| payload.get("rawPath"))
        .and_then(Value::as_str);
    method == Some("GET") && path.is_some_and(|p| p == "/health" || p.starts_with("/health/"))
}

/// What kind of event woke a background function, for its log line.
pub(crate) fn trigger_of(payload: &Value) -> &'static str {
    let first_source = payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("EventSource").or_else(|| r.get("eventSource")))
        .and_then(Value::as_str);
    match first_source {
        Some("aws:sns") => "sns",
        Some("aws:sqs") => "sqs",
        Some(_) => "records",
        None if payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") => {
            "schedule"
        }
        None => "direct",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_health_payload_becomes_a_rest_event() {
        let req = http_request(json!({"httpMethod": "GET", "path": "/health"})).unwrap();
        assert!(matches!(req, LambdaRequest::ApiGatewayV1(_)));
        let v2 = json!({"version": "2.0", "routeKey": "$default", "rawPath": "/health", "rawQueryString": "",
                        "headers": {}, "isBase64Encoded": false,
                        "requestContext": {"http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "x"},
                                           "accountId": "1", "apiId": "a", "domainName": "d", "domainPrefix": "d", "requestId": "r", "routeKey": "$default",
                                           "stage": "$default", "time": "t", "timeEpoch": 0}});
        assert!(matches!(
            http_request(v2).unwrap(),
            LambdaRequest::ApiGatewayV2(_)
        ));
        assert!(http_request(json!({"hello": "world"})).is_err());
    }

    #[test]
    fn health_requests_are_told_from_work() {
        assert!(is_health_request(
            &json!({"httpMethod": "GET", "path": "/health"})
        ));
        assert!(is_health_request(
            &json!({"httpMethod": "GET", "path": "/health/ready", "requestContext": {}})
        ));
        assert!(is_health_request(
            &json!({"rawPath": "/health", "requestContext": {"http": {"method": "GET"}}})
        ));
        assert!(!is_health_request(
            &json!({"httpMethod": "POST", "path": "/health"})
        ));
        assert!(!is_health_request(
            &json!({"httpMethod": "GET", "path": "/healthz"})
        ));
        assert!(!is_health_request(
            &json!({"detail-type": "Scheduled Event"})
        ));
    }

    #[test]
    fn triggers_are_told_apart() {
        assert_eq!(
            trigger_of(&json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]})),
            "sns"
        );
        assert_eq!(
            trigger_of(&json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})),
            "sqs"
        );
        assert_eq!(
            trigger_of(&json!({"detail-type": "Scheduled Event", "source": "aws.events"})),
            "schedule"
        );
        assert_eq!(trigger_of(&json!({})), "direct");
    }
}
