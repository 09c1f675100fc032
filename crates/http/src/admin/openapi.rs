//! The OpenAPI 3.1 document of `/api/v1/`, written by hand (openapi.json
//! beside this file) and served as it is. A test checks it against
//! [`super::api::routes`] both ways, so a route cannot go undocumented and
//! the document cannot promise a route that is not served.

/// The document, served at `/api/v1/openapi.json`.
pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_route_is_documented_and_every_documented_route_is_served() {
        let doc: serde_json::Value = match serde_json::from_str(DOCUMENT) {
            Ok(v) => v,
            Err(e) => panic!("openapi.json is not JSON: {e}"),
        };
        assert_eq!(doc["openapi"], "3.1.0");
        let mut documented = BTreeSet::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            for method in item.as_object().cloned().unwrap_or_default().keys() {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
        let served: BTreeSet<(String, String)> = crate::admin::api::routes()
            .into_iter()
            .map(|(m, p, _)| (m.as_str().to_string(), p.to_string()))
            .collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(v: &serde_json::Value, doc: &serde_json::Value) {
            match v {
                serde_json::Value::Object(map) => {
                    if let Some(serde_json::Value::String(r)) = map.get("$ref") {
                        let pointer = r.trim_start_matches('#');
                        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
                    }
                    map.values().for_each(|v| walk(v, doc));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, doc)),
                _ => {}
            }
        }
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap_or_default();
        walk(&doc, &doc);
    }

    /// The JSON has exactly the fields the OpenAPI document promises, and
    /// never the hash.
    #[test]
    fn the_json_is_the_documented_line() {
        use crate::present::line::{self, tests::line as sample};
        use serde_json::Value;
        use tvgate_core::access::Status;
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap_or_default();
        let keys = |schema: &str| -> Vec<String> {
            let mut keys: Vec<String> = doc["components"]["schemas"][schema]["required"]
                .as_array()
                .map(|r| {
                    r.iter()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            keys.sort();
            keys
        };
        let shown = line::line_json(&sample(Status::Active, None), Some(0), None);
        let mut fields: Vec<String> = shown
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        fields.sort();
        assert!(!fields.is_empty());
        assert_eq!(fields, keys("Line"));
        let mut policy: Vec<String> = shown["device_policy"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        policy.sort();
        assert_eq!(policy, keys("DevicePolicy"));
        assert!(!shown.to_string().contains("argon2"));
        let created =
            line::created_line_json(&sample(Status::Active, None), None, None, Some("pw-1"));
        assert_eq!(created["password"], "pw-1");
        assert_eq!(created["active_connections"], Value::Null);
    }
}
