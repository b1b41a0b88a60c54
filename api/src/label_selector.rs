//! Label selectors: validating and evaluating the `LabelSelector` API type
//! (`matchLabels` / `matchExpressions`), and the string query languages of the list
//! parameters `?labelSelector=` ([`parse_label_query`]) and `?fieldSelector=`
//! ([`parse_field_query`]).
//!
//! Semantics and messages follow `k8s.io/apimachinery` v0.34 (`pkg/apis/meta/v1/validation`,
//! `pkg/labels`, `pkg/fields`).

mod field_query;
mod parser;
mod query;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

pub use field_query::{FieldOperator, FieldQuery, FieldRequirement, parse_field_query};
pub use parser::parse_label_query;
pub use query::{LabelOperator, LabelQuery, LabelRequirement};

use crate::field_error::{FieldError, FieldPath};
use crate::object_meta::{is_valid_label_value, validate_label_name, validate_labels};

/// A selector string (label or field query) that could not be parsed or is invalid; the text is
/// what kube-apiserver reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorParseError(pub String);

/// The `matchExpressions` operators of the API type.
pub const SELECTOR_OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

/// Validates a `LabelSelector` as Kubernetes does for workload selectors: `matchLabels` keys
/// are qualified names and values label values (errors on `<path>.matchLabels`); each
/// `matchExpressions[i]` has a known operator (`In`/`NotIn` with non-empty `values`,
/// `Exists`/`DoesNotExist` without), a qualified-name `key` and valid label `values`.
pub fn validate_label_selector(selector: &LabelSelector, path: &FieldPath) -> Vec<FieldError> {
    let empty = BTreeMap::new();
    let mut errs = validate_labels(
        selector.match_labels.as_ref().unwrap_or(&empty),
        &path.child("matchLabels"),
    );
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        errs.extend(validate_requirement(
            expr,
            &path.child("matchExpressions").index(i),
        ));
    }
    errs
}

fn validate_requirement(expr: &LabelSelectorRequirement, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let values = expr.values.as_deref().unwrap_or_default();
    match expr.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_label_name(&expr.key, &path.child("key")));
    for (i, value) in values.iter().enumerate() {
        for msg in is_valid_label_value(value) {
            errs.push(FieldError::invalid(
                &path.child("values").index(i),
                value.as_str(),
                msg,
            ));
        }
    }
    errs
}

/// Converts the API type into a query (apimachinery's `LabelSelectorAsSelector`): each
/// `matchLabels` entry becomes `key=value`, each expression its operator. An empty selector
/// becomes the empty query, which matches everything. Fails on an unknown operator or an
/// invalid key or value.
pub fn to_label_query(selector: &LabelSelector) -> Result<LabelQuery, SelectorParseError> {
    let mut requirements = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        requirements.push(LabelRequirement::new(
            key,
            LabelOperator::Equals,
            vec![value.clone()],
        )?);
    }
    for expr in selector.match_expressions.iter().flatten() {
        let operator = match expr.operator.as_str() {
            "In" => LabelOperator::In,
            "NotIn" => LabelOperator::NotIn,
            "Exists" => LabelOperator::Exists,
            "DoesNotExist" => LabelOperator::DoesNotExist,
            other => {
                return Err(SelectorParseError(format!(
                    "{} is not a valid label selector operator",
                    crate::field_error::go_quote(other)
                )));
            }
        };
        let values = expr.values.clone().unwrap_or_default();
        requirements.push(LabelRequirement::new(&expr.key, operator, values)?);
    }
    Ok(LabelQuery::from_requirements(requirements))
}

/// Whether `labels` satisfy `selector`. The empty selector matches everything; a selector that
/// cannot be evaluated (unknown operator, invalid key or value) matches nothing.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    to_label_query(selector).is_ok_and(|query| query.matches(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field_error::FieldErrorType;

    fn expr(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn selector(labels: &[(&str, &str)], exprs: Vec<LabelSelectorRequirement>) -> LabelSelector {
        LabelSelector {
            match_labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            match_expressions: (!exprs.is_empty()).then_some(exprs),
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn path() -> FieldPath {
        FieldPath::new("spec").child("selector")
    }

    #[test]
    fn a_well_formed_selector_has_no_errors() {
        let s = selector(
            &[("app", "web")],
            vec![
                expr("zone", "In", &["a", "b"]),
                expr("tier", "NotIn", &["db"]),
                expr("example.com/gpu", "Exists", &[]),
                expr("spot", "DoesNotExist", &[]),
            ],
        );
        assert!(validate_label_selector(&s, &path()).is_empty());
    }

    #[test]
    fn in_and_not_in_need_values() {
        let s = selector(&[], vec![expr("zone", "In", &[])]);
        let errs = validate_label_selector(&s, &path());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, FieldErrorType::Required);
        assert_eq!(
            errs[0].message(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
    }

    #[test]
    fn exists_and_does_not_exist_forbid_values() {
        let s = selector(
            &[],
            vec![
                expr("a", "Exists", &[]),
                expr("zone", "DoesNotExist", &["x"]),
            ],
        );
        let errs = validate_label_selector(&s, &path());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, FieldErrorType::Forbidden);
        assert_eq!(
            errs[0].message(),
            "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
        );
    }

    #[test]
    fn an_unknown_operator_is_invalid() {
        let s = selector(&[], vec![expr("zone", "Equals", &["a"])]);
        let errs = validate_label_selector(&s, &path());
        assert_eq!(
            errs.iter().map(FieldError::message).collect::<Vec<_>>(),
            vec![
                "spec.selector.matchExpressions[0].operator: Invalid value: \"Equals\": not a valid selector operator"
            ]
        );
    }

    #[test]
    fn bad_keys_and_values_are_reported_at_their_paths() {
        let s = selector(
            &[("bad key", "v")],
            vec![expr("-k", "In", &["ok", "bad value"])],
        );
        let fields: Vec<String> = validate_label_selector(&s, &path())
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            vec![
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].key",
                "spec.selector.matchExpressions[0].values[1]",
            ]
        );
    }

    #[test]
    fn the_empty_selector_matches_everything() {
        let s = LabelSelector::default();
        assert!(matches(&s, &labels(&[])));
        assert!(matches(&s, &labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let s = selector(
            &[("app", "web")],
            vec![
                expr("zone", "In", &["a", "b"]),
                expr("tier", "NotIn", &["db"]),
                expr("gpu", "Exists", &[]),
                expr("spot", "DoesNotExist", &[]),
            ],
        );
        let node = labels(&[("app", "web"), ("zone", "a"), ("gpu", "1")]);
        assert!(matches(&s, &node));
        let wrong_zone = labels(&[("app", "web"), ("zone", "c"), ("gpu", "1")]);
        assert!(!matches(&s, &wrong_zone));
        let spot = labels(&[("app", "web"), ("zone", "a"), ("gpu", "1"), ("spot", "")]);
        assert!(!matches(&s, &spot));
        let db = labels(&[("app", "web"), ("zone", "b"), ("gpu", "1"), ("tier", "db")]);
        assert!(!matches(&s, &db));
        assert!(!matches(&s, &labels(&[("zone", "a"), ("gpu", "1")])));
    }

    #[test]
    fn a_selector_with_an_unknown_operator_matches_nothing() {
        let s = selector(&[], vec![expr("zone", "Equals", &["a"])]);
        assert!(!matches(&s, &labels(&[("zone", "a")])));
        assert_eq!(
            to_label_query(&s).unwrap_err().to_string(),
            "\"Equals\" is not a valid label selector operator"
        );
    }

    #[test]
    fn a_selector_converts_into_the_equivalent_query() {
        let s = selector(&[("app", "web")], vec![expr("zone", "NotIn", &["b", "a"])]);
        let query = to_label_query(&s).expect("valid selector");
        assert_eq!(query.to_string(), "app=web,zone notin (a,b)");
    }
}
