//! `?labelSelector=` and `?fieldSelector=` for list, watch and deletecollection, with
//! custom-resource semantics: the selectable fields are `metadata.name` and, for namespaced
//! kinds, `metadata.namespace`; anything else is 400 `field label not supported: <field>`.

use std::collections::BTreeMap;

use prepull_api::Kind;
use prepull_api::label_selector::{FieldQuery, LabelQuery, parse_field_query, parse_label_query};
use serde_json::Value;

use crate::http::status::ApiError;

const NAME: &str = "metadata.name";
const NAMESPACE: &str = "metadata.namespace";

/// Parsed selectors of one request.
#[derive(Clone, Debug)]
pub(crate) struct Selectors {
    labels: LabelQuery,
    fields: FieldQuery,
    namespaced: bool,
}

/// Longest label or field selector accepted, in bytes: far past any real one (label values
/// are at most 63 characters), short enough that parsing one is cheap.
pub(crate) const MAX_SELECTOR_BYTES: usize = 32 * 1024;

impl Selectors {
    /// Parses both selectors for `kind` (400 for a malformed selector, one longer than
    /// [`MAX_SELECTOR_BYTES`], or an unsupported field).
    pub(crate) fn parse(
        kind: Kind,
        label_selector: Option<&str>,
        field_selector: Option<&str>,
    ) -> Result<Selectors, ApiError> {
        for (name, selector) in [
            ("labelSelector", label_selector),
            ("fieldSelector", field_selector),
        ] {
            if selector.is_some_and(|s| s.len() > MAX_SELECTOR_BYTES) {
                return Err(ApiError::bad_request(format!(
                    "{name}: Too long: may not be more than {MAX_SELECTOR_BYTES} bytes"
                )));
            }
        }
        let labels = parse_label_query(label_selector.unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = parse_field_query(field_selector.unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let namespaced = kind.info().namespaced;
        for requirement in fields.requirements() {
            let supported =
                requirement.field == NAME || (namespaced && requirement.field == NAMESPACE);
            if !supported {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    requirement.field
                )));
            }
        }
        Ok(Selectors {
            labels,
            fields,
            namespaced,
        })
    }

    /// Whether every object matches.
    pub(crate) fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// The one name the selectors allow, if `metadata.name=` pins it.
    pub(crate) fn pinned_name(&self) -> Option<&str> {
        self.fields.requires_exact_match(NAME)
    }

    /// Whether `object` (any JSON object with `metadata`) matches.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        if self.is_everything() {
            return true;
        }
        let meta = object.get("metadata");
        let text = |field: &str| {
            meta.and_then(|m| m.get(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if !self.fields.is_empty() {
            let mut fields = BTreeMap::from([(NAME.to_owned(), text("name"))]);
            if self.namespaced {
                fields.insert(NAMESPACE.to_owned(), text("namespace"));
            }
            if !self.fields.matches(&fields) {
                return false;
            }
        }
        if self.labels.is_empty() {
            return true;
        }
        let labels: BTreeMap<String, String> = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect();
        self.labels.matches(&labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, namespace: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": namespace, "labels": labels}})
    }

    #[test]
    fn overlong_selectors_are_refused_before_parsing() {
        let long = format!("a in ({})", vec!["x"; MAX_SELECTOR_BYTES].join(","));
        let err = Selectors::parse(Kind::NodeImage, Some(&long), None)
            .err()
            .unwrap();
        assert_eq!(err.code.as_u16(), 400);
        assert!(
            err.message.starts_with("labelSelector: Too long"),
            "{}",
            err.message
        );
        assert!(Selectors::parse(Kind::NodeImage, None, Some(&long)).is_err());
    }

    #[test]
    fn label_and_field_selectors_both_apply() {
        let selectors = Selectors::parse(
            Kind::ImagePullJob,
            Some("app=web,tier!=db"),
            Some("metadata.namespace=prod"),
        )
        .unwrap();
        assert!(selectors.matches(&job("a", "prod", json!({"app": "web"}))));
        assert!(!selectors.matches(&job("a", "dev", json!({"app": "web"}))));
        assert!(!selectors.matches(&job("a", "prod", json!({"app": "web", "tier": "db"}))));
        assert!(!selectors.matches(&job("a", "prod", json!({}))));
    }

    #[test]
    fn only_metadata_fields_are_selectable() {
        let err = Selectors::parse(Kind::ImagePullJob, None, Some("spec.image=nginx")).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
        assert_eq!(err.message, "field label not supported: spec.image");
        let err =
            Selectors::parse(Kind::NodeImage, None, Some("metadata.namespace=x")).unwrap_err();
        assert_eq!(err.message, "field label not supported: metadata.namespace");
    }

    #[test]
    fn a_name_equality_pins_the_name() {
        let selectors =
            Selectors::parse(Kind::NodeImage, None, Some("metadata.name=node-1")).unwrap();
        assert_eq!(selectors.pinned_name(), Some("node-1"));
        assert!(selectors.matches(&json!({"metadata": {"name": "node-1"}})));
        assert!(!selectors.matches(&json!({"metadata": {"name": "node-10"}})));
    }

    #[test]
    fn a_malformed_label_selector_is_a_bad_request() {
        let err = Selectors::parse(Kind::NodeImage, Some("a in (b"), None).unwrap_err();
        assert_eq!(err.code.as_u16(), 400);
    }
}
