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
}
