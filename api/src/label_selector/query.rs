//! Label queries (apimachinery `labels.Selector`): validated requirements and their evaluation
//! against a label set. The string syntax is parsed in the sibling `parser` module
//! ([`parse_label_query`](super::parse_label_query)).

use std::collections::BTreeMap;
use std::fmt;

use super::SelectorParseError;
use crate::field_error::{FieldError, FieldPath, aggregate_message};
use crate::object_meta::{is_qualified_name, is_valid_label_value};

/// A requirement's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelOperator {
    /// `key in (a,b)`: the label exists and has one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `key=v`.
    Equals,
    /// `key==v` (same meaning as `=`).
    DoubleEquals,
    /// `key!=v`: absent or different.
    NotEquals,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key>n`: the label is an integer greater than `n`.
    GreaterThan,
    /// `key<n`: the label is an integer less than `n`.
    LessThan,
}

impl LabelOperator {
    /// The operator as apimachinery's `selection.Operator` spells it (`in`, `=`, `gt`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::NotIn => "notin",
            Self::Equals => "=",
            Self::DoubleEquals => "==",
            Self::NotEquals => "!=",
            Self::Exists => "exists",
            Self::DoesNotExist => "!",
            Self::GreaterThan => "gt",
            Self::LessThan => "lt",
        }
    }
}

/// One validated requirement of a [`LabelQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRequirement {
    key: String,
    operator: LabelOperator,
    values: Vec<String>,
}

impl LabelRequirement {
    /// Builds a requirement, checking it like apimachinery's `NewRequirement`: the key is a
    /// qualified name; `in`/`notin` need values, `=`/`==`/`!=` exactly one, exists/does-not-exist
    /// none, `gt`/`lt` exactly one integer; every value is a valid label value.
    pub fn new(
        key: &str,
        operator: LabelOperator,
        values: Vec<String>,
    ) -> Result<Self, SelectorParseError> {
        let mut errs = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(FieldError::invalid(
                &FieldPath::new("key"),
                key,
                key_errs.join("; "),
            ));
        }
        let values_path = FieldPath::new("values");
        let count_rule = match operator {
            LabelOperator::In | LabelOperator::NotIn => (values.is_empty())
                .then_some("for 'in', 'notin' operators, values set can't be empty"),
            LabelOperator::Equals | LabelOperator::DoubleEquals | LabelOperator::NotEquals => {
                (values.len() != 1).then_some("exact-match compatibility requires one single value")
            }
            LabelOperator::Exists | LabelOperator::DoesNotExist => (!values.is_empty())
                .then_some("values set must be empty for exists and does not exist"),
            LabelOperator::GreaterThan | LabelOperator::LessThan => (values.len() != 1)
                .then_some("for 'Gt', 'Lt' operators, exactly one value is required"),
        };
        if let Some(rule) = count_rule {
            errs.push(FieldError::invalid(&values_path, values.clone(), rule));
        }
        if matches!(
            operator,
            LabelOperator::GreaterThan | LabelOperator::LessThan
        ) {
            for (i, value) in values.iter().enumerate() {
                if value.parse::<i64>().is_err() {
                    errs.push(FieldError::invalid(
                        &values_path.index(i),
                        value.as_str(),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        for (i, value) in values.iter().enumerate() {
            let value_errs = is_valid_label_value(value);
            if !value_errs.is_empty() {
                errs.push(FieldError::invalid(
                    &values_path.index(i).key(key),
                    value.as_str(),
                    value_errs.join("; "),
                ));
            }
        }
        match aggregate_message(&errs) {
            Some(message) => Err(SelectorParseError(message)),
            None => Ok(Self {
                key: key.to_owned(),
                operator,
                values,
            }),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> LabelOperator {
        self.operator
    }

    /// The values (empty for exists / does-not-exist).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let listed = |v: &String| self.values.contains(v);
        match self.operator {
            LabelOperator::In | LabelOperator::Equals | LabelOperator::DoubleEquals => {
                value.is_some_and(listed)
            }
            LabelOperator::NotIn | LabelOperator::NotEquals => !value.is_some_and(listed),
            LabelOperator::Exists => value.is_some(),
            LabelOperator::DoesNotExist => value.is_none(),
            LabelOperator::GreaterThan | LabelOperator::LessThan => {
                let (Some(actual), [bound]) = (value, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(actual), Ok(bound)) = (actual.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.operator == LabelOperator::GreaterThan {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

/// Printed as apimachinery prints it: `key=v`, `key in (a,b)`, `!key`, `key>1`.
impl fmt::Display for LabelRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == LabelOperator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            LabelOperator::Exists | LabelOperator::DoesNotExist => return Ok(()),
            LabelOperator::Equals => "=",
            LabelOperator::DoubleEquals => "==",
            LabelOperator::NotEquals => "!=",
            LabelOperator::In => " in ",
            LabelOperator::NotIn => " notin ",
            LabelOperator::GreaterThan => ">",
            LabelOperator::LessThan => "<",
        };
        let mut values = self.values.clone();
        values.sort();
        let set = matches!(self.operator, LabelOperator::In | LabelOperator::NotIn);
        if set {
            write!(f, "{op}({})", values.join(","))
        } else {
            write!(f, "{op}{}", values.join(","))
        }
    }
}

/// A parsed label query: the AND of its requirements, kept sorted by key. The empty query
/// matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelQuery {
    requirements: Vec<LabelRequirement>,
}

impl LabelQuery {
    /// The query that matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    pub(super) fn from_requirements(mut requirements: Vec<LabelRequirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements }
    }

    /// Whether the query has no requirements (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[LabelRequirement] {
        &self.requirements
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The value `key` must have when the query pins it to exactly one value (`key=v`,
    /// `key==v` or `key in (v)`).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (LabelOperator::Equals | LabelOperator::DoubleEquals | LabelOperator::In, [value]) => {
                Some(value)
            }
            _ => None,
        }
    }
}

/// Requirements joined by `,`, as apimachinery prints a selector.
impl fmt::Display for LabelQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::label_selector::parse_label_query;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn query(s: &str) -> LabelQuery {
        parse_label_query(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn parse_error(s: &str) -> String {
        parse_label_query(s)
            .expect_err(&format!("{s:?} should not parse"))
            .to_string()
    }

    #[test]
    fn the_empty_query_matches_everything() {
        for s in ["", "   "] {
            let q = query(s);
            assert!(q.is_empty());
            assert!(q.matches(&labels(&[])));
            assert!(q.matches(&labels(&[("a", "b")])));
        }
    }

    #[test]
    fn equality_operators_compare_one_value() {
        let node = labels(&[("zone", "a")]);
        assert!(query("zone=a").matches(&node));
        assert!(query("zone==a").matches(&node));
        assert!(!query("zone=b").matches(&node));
        assert!(!query("zone!=a").matches(&node));
        assert!(query("zone!=b").matches(&node));
        assert!(
            query("other!=x").matches(&node),
            "absent counts as different"
        );
        assert!(!query("other=x").matches(&node));
        assert_eq!(
            query("zone==a").requirements()[0].operator(),
            LabelOperator::DoubleEquals
        );
    }

    #[test]
    fn set_operators_test_membership() {
        let node = labels(&[("zone", "b")]);
        assert!(query("zone in (a, b)").matches(&node));
        assert!(!query("zone in (a,c)").matches(&node));
        assert!(query("zone notin (a,c)").matches(&node));
        assert!(!query("zone notin (b)").matches(&node));
        assert!(
            query("other notin (b)").matches(&node),
            "absent is not in any set"
        );
        assert!(!query("other in (b)").matches(&node));
        assert_eq!(query("x in (b,a,b)").requirements()[0].values(), ["a", "b"]);
    }

    #[test]
    fn bare_and_negated_keys_test_presence() {
        let node = labels(&[("gpu", "")]);
        assert!(query("gpu").matches(&node));
        assert!(!query("!gpu").matches(&node));
        assert!(query("!spot").matches(&node));
        assert!(!query("spot").matches(&node));
        assert_eq!(
            query("!spot").requirements()[0].operator(),
            LabelOperator::DoesNotExist
        );
    }

    #[test]
    fn greater_and_less_than_compare_integers() {
        let node = labels(&[("cpus", "8"), ("name", "x")]);
        assert!(query("cpus>4").matches(&node));
        assert!(!query("cpus>8").matches(&node));
        assert!(query("cpus<16").matches(&node));
        assert!(
            !query("name>1").matches(&node),
            "a non-integer label never matches"
        );
        assert!(!query("missing<1").matches(&node));
        assert_eq!(
            parse_error("cpus>x"),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn exact_matches_are_discoverable() {
        let q = query("a=1,b in (2),c in (3,4),d!=5");
        assert_eq!(q.requires_exact_match("a"), Some("1"));
        assert_eq!(q.requires_exact_match("b"), Some("2"));
        assert_eq!(q.requires_exact_match("c"), None);
        assert_eq!(q.requires_exact_match("d"), None);
        assert_eq!(q.requires_exact_match("e"), None);
    }

    #[test]
    fn requirements_built_directly_are_validated_too() {
        assert!(LabelRequirement::new("a", LabelOperator::In, vec![]).is_err());
        assert!(LabelRequirement::new("a", LabelOperator::Exists, vec!["x".into()]).is_err());
        assert!(
            LabelRequirement::new("a", LabelOperator::Equals, vec!["x".into(), "y".into()])
                .is_err()
        );
        let err = LabelRequirement::new("a b", LabelOperator::In, vec![]).unwrap_err();
        assert!(
            err.0.starts_with("[key: Invalid value: \"a b\": name part"),
            "{err}"
        );
        assert!(err.0.ends_with(
            ", values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty]"
        ));
        assert!(LabelRequirement::new("a", LabelOperator::NotIn, vec!["x".into()]).is_ok());
    }
}
