//! The field query language of `?fieldSelector=` (apimachinery `fields.ParseSelector`):
//! comma-separated terms `field=value`, `field==value` or `field!=value`, all of which must
//! hold. In values, `\,`, `\=` and `\\` escape the special characters. Which fields may be
//! used is the server's business; this module only parses and evaluates.

use std::collections::BTreeMap;
use std::fmt;

use super::SelectorParseError;

/// A term's operator (`==` is the same as `=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldOperator {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

/// One term of a [`FieldQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field path, e.g. `metadata.name`.
    pub field: String,
    /// How the field compares with `value`.
    pub operator: FieldOperator,
    /// The unescaped value.
    pub value: String,
}

impl FieldRequirement {
    /// Whether `fields` satisfy this term; a missing field counts as the empty string.
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        let actual = fields.get(&self.field).map_or("", String::as_str);
        match self.operator {
            FieldOperator::Equals => actual == self.value,
            FieldOperator::NotEquals => actual != self.value,
        }
    }
}

/// Printed as apimachinery prints a term: `field=value` / `field!=value`, value re-escaped.
impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            FieldOperator::Equals => "=",
            FieldOperator::NotEquals => "!=",
        };
        write!(f, "{}{op}{}", self.field, escape_value(&self.value))
    }
}

/// A parsed field query: the AND of its terms. The empty query matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldQuery {
    requirements: Vec<FieldRequirement>,
}

impl FieldQuery {
    /// The terms, in the order apimachinery keeps them (sorted by their source text).
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether the query has no terms (and so matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether `fields` (field path -> value) satisfy every term.
    pub fn matches(&self, fields: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(fields))
    }

    /// The value `field` must equal, if some `=`/`==` term pins it (e.g. `metadata.name`).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

/// Terms joined by `,`.
impl fmt::Display for FieldQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

fn escape_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

fn unescape_value(value: &str) -> Result<String, SelectorParseError> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(other) => {
                    return Err(SelectorParseError(format!(
                        "invalid field selector: invalid escape sequence: \\{other}"
                    )));
                }
                None => {
                    return Err(SelectorParseError(
                        "invalid field selector: invalid escape sequence: \\".to_owned(),
                    ));
                }
            },
            // Go prints the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(SelectorParseError(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Splits on commas that are not escaped; escapes stay in the terms.
fn split_terms(input: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&input[start..i]);
            start = i + 1;
        }
    }
    terms.push(&input[start..]);
    terms
}

/// Splits a term at the first operator (`!=`, then `==`, then `=` at each position).
fn split_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, operator) in [
            ("!=", FieldOperator::NotEquals),
            ("==", FieldOperator::Equals),
            ("=", FieldOperator::Equals),
        ] {
            if let Some(value) = rest.strip_prefix(op) {
                return Some((&term[..i], operator, value));
            }
        }
    }
    None
}

/// Parses a `?fieldSelector=` string. The empty string is the query matching everything.
pub fn parse_field_query(input: &str) -> Result<FieldQuery, SelectorParseError> {
    if input.is_empty() {
        return Ok(FieldQuery::default());
    }
    let mut terms = split_terms(input);
    terms.sort_unstable();
    let mut requirements = Vec::new();
    for term in terms.into_iter().filter(|t| !t.is_empty()) {
        let Some((field, operator, raw)) = split_term(term) else {
            return Err(SelectorParseError(format!(
                "invalid selector: '{input}'; can't understand '{term}'"
            )));
        };
        requirements.push(FieldRequirement {
            field: field.to_owned(),
            operator,
            value: unescape_value(raw)?,
        });
    }
    Ok(FieldQuery { requirements })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_name_equality_pins_the_name() {
        for s in ["metadata.name=node-1", "metadata.name==node-1"] {
            let q = parse_field_query(s).expect("valid");
            assert_eq!(
                q.requirements(),
                [FieldRequirement {
                    field: "metadata.name".into(),
                    operator: FieldOperator::Equals,
                    value: "node-1".into(),
                }]
            );
            assert_eq!(q.requires_exact_match("metadata.name"), Some("node-1"));
            assert!(q.matches(&fields(&[("metadata.name", "node-1")])));
            assert!(!q.matches(&fields(&[("metadata.name", "node-2")])));
        }
    }

    #[test]
    fn terms_are_anded_and_not_equals_excludes() {
        let q = parse_field_query("metadata.namespace=ns,metadata.name!=a").expect("valid");
        assert_eq!(q.requirements().len(), 2);
        assert_eq!(q.requires_exact_match("metadata.name"), None);
        let obj = |name| fields(&[("metadata.namespace", "ns"), ("metadata.name", name)]);
        assert!(q.matches(&obj("b")));
        assert!(!q.matches(&obj("a")));
        assert!(!q.matches(&fields(&[("metadata.name", "b")])));
        assert_eq!(q.to_string(), "metadata.name!=a,metadata.namespace=ns");
    }

    #[test]
    fn the_empty_query_matches_everything() {
        let q = parse_field_query("").expect("valid");
        assert!(q.is_empty());
        assert!(q.matches(&fields(&[])));
        assert!(parse_field_query(",").expect("valid").is_empty());
    }

    #[test]
    fn escaped_commas_and_equals_signs_belong_to_the_value() {
        let q = parse_field_query(r"a=x\,y\=z\\,b=1").expect("valid");
        assert_eq!(q.requirements()[0].value, r"x,y=z\");
        assert_eq!(q.requirements()[1].value, "1");
        assert_eq!(q.to_string(), r"a=x\,y\=z\\,b=1");
    }

    #[test]
    fn malformed_terms_and_escapes_are_rejected_with_apimachinery_wording() {
        assert_eq!(
            parse_field_query("metadata.name").unwrap_err().to_string(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert_eq!(
            parse_field_query(r"a=\x").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            parse_field_query(r"a=b\").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            parse_field_query("a=b=c").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
    }
}
