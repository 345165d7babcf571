//! A Lambda function version as a check [`Target`]: each request becomes an API Gateway REST
//! (v1) proxy event, sent with `Invoke` to the qualified function (a version not yet behind the
//! alias, so no user traffic reaches it), and the proxy response becomes the answer.

use aws_sdk_lambda::primitives::Blob;
use serde_json::{Map, Value, json};

use crate::checks::{Answer, Probe, Target};

/// One function version, e.g. `arn:aws:lambda:eu-central-1:123456789012:function:solar-data-service:7`
/// or `solar-data-service:7`.
#[derive(Debug, Clone)]
pub struct LambdaTarget {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaTarget {
    /// Over `client`, invoking `function` (qualified by version or alias).
    pub fn new(client: aws_sdk_lambda::Client, function: &str) -> Self {
        Self {
            client,
            function: function.to_owned(),
        }
    }
}

/// The API Gateway REST proxy event for `probe`, as the `Api` events of the template deliver it.
pub fn api_gateway_event(probe: &Probe<'_>) -> Value {
    let (path, query) = probe.path.split_once('?').unwrap_or((probe.path, ""));
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        params.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let multi: Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let mut headers = Map::new();
    headers.insert("Host".into(), json!("moose-release-check"));
    headers.insert("User-Agent".into(), json!("moose-release-check"));
    if let Some(b) = probe.bearer {
        headers.insert("Authorization".into(), json!(format!("Bearer {b}")));
    }
    if probe.body.is_some() {
        headers.insert("Content-Type".into(), json!("application/json"));
    }
    let multi_headers: Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let method = probe.method.as_str();
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": if params.is_empty() { Value::Null } else { Value::Object(params) },
        "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { Value::Object(multi) },
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": "/{proxy+}", "httpMethod": method, "path": path,
            "requestId": "moose-release-check", "identity": {"sourceIp": "127.0.0.1"}
        },
        "body": probe.body.as_ref().map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// The answer in an API Gateway proxy response (`statusCode`, `body`), or why there is none.
pub fn proxy_answer(payload: &[u8]) -> Result<Answer, String> {
    let v: Value = serde_json::from_slice(payload)
        .map_err(|_| "the function's answer is not JSON".to_owned())?;
    let status = v["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| "the function's answer is not an API Gateway proxy response".to_owned())?;
    let text = v["body"].as_str().unwrap_or_default().to_owned();
    Ok(Answer {
        status,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    })
}

impl Target for LambdaTarget {
    fn describe(&self) -> String {
        self.function.clone()
    }

    async fn send(&self, probe: Probe<'_>) -> Result<Answer, String> {
        let event = api_gateway_event(&probe);
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Invoke {}: {}",
                    self.function,
                    aws_sdk_lambda::error::DisplayErrorContext(&e)
                )
            })?;
        let payload = out.payload().map(Blob::as_ref).unwrap_or_default();
        if let Some(kind) = out.function_error() {
            // The runtime's error document: {"errorType","errorMessage"}.
            let doc: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
            return Err(format!(
                "the function failed ({kind}): {} {}",
                doc["errorType"].as_str().unwrap_or(""),
                doc["errorMessage"].as_str().unwrap_or("")
            ));
        }
        proxy_answer(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Method;

    #[test]
    fn a_probe_becomes_a_rest_proxy_event_with_its_query_and_credential() {
        let e = api_gateway_event(&Probe {
            method: Method::Get,
            path: "/api/incidents?limit=5&state=open",
            body: None,
            bearer: Some("k"),
        });
        assert_eq!(e["path"], "/api/incidents");
        assert_eq!(e["httpMethod"], "GET");
        assert_eq!(e["queryStringParameters"]["limit"], "5");
        assert_eq!(e["multiValueQueryStringParameters"]["state"][0], "open");
        assert_eq!(e["headers"]["Authorization"], "Bearer k");
        assert!(e["body"].is_null());
        let post = api_gateway_event(&Probe {
            method: Method::Post,
            path: "/api/chat",
            body: Some(json!({"message": "hi"})),
            bearer: None,
        });
        assert_eq!(post["body"], "{\"message\":\"hi\"}");
        assert!(post["queryStringParameters"].is_null());
        assert!(post["headers"].get("Authorization").is_none());
    }

    #[test]
    fn a_proxy_response_is_read_and_anything_else_is_refused() {
        let a = proxy_answer(br#"{"statusCode":200,"body":"{\"status\":\"healthy\"}"}"#).unwrap();
        assert_eq!(
            (a.status, a.json["status"].as_str()),
            (200, Some("healthy"))
        );
        assert!(proxy_answer(b"{\"records\":3}").is_err());
        assert!(proxy_answer(b"oops").is_err());
    }
}
