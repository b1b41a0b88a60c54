//! The label query language of `?labelSelector=` (apimachinery `labels.Parse`):
//!
//! ```text
//! selector    ::= requirement ("," requirement)*      (all must hold)
//! requirement ::= ["!"] KEY [ ("in" | "notin") "(" VALUE ("," VALUE)* ")"
//!                           | ("=" | "==" | "!=" | ">" | "<") VALUE ]
//! ```
//!
//! A bare `KEY` means "exists", `!KEY` "does not exist"; whitespace between tokens is ignored;
//! `>`/`<` compare integers. Error texts are apimachinery's.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::SelectorParseError;
use crate::field_error::{FieldError, FieldErrorType, FieldPath, aggregate_message};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    Bang,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the input into tokens (with their literal text), ending with [`Token::End`].
fn lex(input: &str) -> Vec<(Token, String)> {
    let bytes = input.as_bytes();
    let mut pos = 0;
    let mut tokens = Vec::new();
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        if pos == bytes.len() {
            tokens.push((Token::End, String::new()));
            return tokens;
        }
        if is_special(bytes[pos]) {
            let two = bytes.get(pos..pos + 2);
            let (token, len) = match (bytes[pos], two) {
                (_, Some(b"!=")) => (Token::NotEquals, 2),
                (_, Some(b"==")) => (Token::DoubleEquals, 2),
                (b'!', _) => (Token::Bang, 1),
                (b'=', _) => (Token::Equals, 1),
                (b'(', _) => (Token::OpenPar, 1),
                (b')', _) => (Token::ClosedPar, 1),
                (b',', _) => (Token::Comma, 1),
                (b'>', _) => (Token::GreaterThan, 1),
                _ => (Token::LessThan, 1),
            };
            tokens.push((token, input[pos..pos + len].to_owned()));
            pos += len;
            continue;
        }
        let start = pos;
        while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
            pos += 1;
        }
        let word = &input[start..pos];
        let token = match word {
            "in" => Token::In,
            "notin" => Token::NotIn,
            _ => Token::Identifier,
        };
        tokens.push((token, word.to_owned()));
    }
}

/// Where the parser is: keywords `in`/`notin` are operators after a key but plain identifiers
/// where values (or keys) are expected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Token, String)>,
    position: usize,
}

fn err<T>(message: String) -> Result<T, SelectorParseError> {
    Err(SelectorParseError(message))
}

impl Parser {
    fn lookahead(&self, context: Context) -> (Token, String) {
        let (token, literal) = self.tokens[self.position].clone();
        (Self::in_context(token, context), literal)
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let item = self.lookahead(context);
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
        item
    }

    fn in_context(token: Token, context: Context) -> Token {
        match (token, context) {
            (Token::In | Token::NotIn, Context::Values) => Token::Identifier,
            _ => token,
        }
    }

    fn parse(&mut self) -> Result<Vec<LabelRequirement>, SelectorParseError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::Bang => {
                    let requirement = self.parse_requirement().map_err(|e| {
                        SelectorParseError(format!("unable to parse requirement: {}", e.0))
                    })?;
                    requirements.push(requirement);
                    let (token, literal) = self.consume(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::Bang {
                                return err(format!(
                                    "found '{literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<LabelRequirement, SelectorParseError> {
        let (key, unary) = self.parse_key_and_infer_operator()?;
        if let Some(operator) = unary {
            return LabelRequirement::new(&key, operator, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            LabelOperator::In | LabelOperator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        LabelRequirement::new(&key, operator, values)
    }

    /// Reads `[!]KEY`; returns the unary operator when nothing follows the key.
    fn parse_key_and_infer_operator(
        &mut self,
    ) -> Result<(String, Option<LabelOperator>), SelectorParseError> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let negated = token == Token::Bang;
        if negated {
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return err(format!("found '{literal}', expected: identifier"));
        }
        let key_errs = is_qualified_name(&literal);
        if !key_errs.is_empty() {
            // apimachinery validates the key here against a nil field path.
            let error = FieldError {
                kind: FieldErrorType::Invalid,
                field: "<nil>".to_owned(),
                value: Some(Value::from(literal.as_str())),
                detail: key_errs.join("; "),
            };
            return err(error.message());
        }
        let (next, _) = self.lookahead(Context::Values);
        let operator = if negated {
            Some(LabelOperator::DoesNotExist)
        } else if matches!(next, Token::End | Token::Comma) {
            Some(LabelOperator::Exists)
        } else {
            None
        };
        Ok((literal, operator))
    }

    fn parse_operator(&mut self) -> Result<LabelOperator, SelectorParseError> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        Ok(match token {
            Token::In => LabelOperator::In,
            Token::Equals => LabelOperator::Equals,
            Token::DoubleEquals => LabelOperator::DoubleEquals,
            Token::GreaterThan => LabelOperator::GreaterThan,
            Token::LessThan => LabelOperator::LessThan,
            Token::NotIn => LabelOperator::NotIn,
            Token::NotEquals => LabelOperator::NotEquals,
            _ => {
                return err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    /// Reads `( v1, v2, ... )`; empty entries are the empty value. Returns sorted, unique values.
    fn parse_values(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let mut values = std::collections::BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    values.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => {}
                        Token::ClosedPar => return Ok(values.into_iter().collect()),
                        _ => return err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        values.insert(String::new());
                        return Ok(values.into_iter().collect());
                    }
                    if next == Token::Comma {
                        self.consume(Context::Values);
                        values.insert(String::new());
                    }
                }
                _ => return err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// Reads the single value after `=`, `==`, `!=`, `>` or `<`; nothing means the empty value.
    fn parse_exact_value(&mut self) -> Result<Vec<String>, SelectorParseError> {
        let (token, _) = self.lookahead(Context::Values);
        if matches!(token, Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(vec![literal])
        } else {
            err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// Parses a `?labelSelector=` string. The empty string is the query matching everything.
pub fn parse_label_query(input: &str) -> Result<LabelQuery, SelectorParseError> {
    let mut parser = Parser {
        tokens: lex(input),
        position: 0,
    };
    Ok(LabelQuery::from_requirements(parser.parse()?))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn commas_combine_requirements_with_and_and_whitespace_is_ignored() {
        let q = query(" app = web ,zone in ( a ),  !spot ");
        assert_eq!(q.requirements().len(), 3);
        assert!(q.matches(&labels(&[("app", "web"), ("zone", "a")])));
        assert!(!q.matches(&labels(&[("app", "web"), ("zone", "a"), ("spot", "1")])));
        assert!(!q.matches(&labels(&[("app", "db"), ("zone", "a")])));
        assert_eq!(q.to_string(), "app=web,!spot,zone in (a)");
    }

    #[test]
    fn keywords_are_values_inside_parentheses_and_keys_at_the_start() {
        let q = query("in in (in,notin)");
        assert_eq!(q.requirements()[0].key(), "in");
        assert!(q.matches(&labels(&[("in", "notin")])));
    }

    #[test]
    fn empty_values_are_allowed() {
        assert!(query("a=").matches(&labels(&[("a", "")])));
        assert_eq!(query("a in ()").requirements()[0].values(), [""]);
        assert_eq!(query("a in (,x)").requirements()[0].values(), ["", "x"]);
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
    fn syntax_errors_use_apimachinery_wording() {
        assert_eq!(
            parse_error("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_error("a,"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            parse_error("=a"),
            "found '=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_error("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_error("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_error("a (b)"),
            "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_error("!=a"),
            "found '!=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_error("! =a"),
            "unable to parse requirement: found '=', expected: identifier"
        );
    }

    #[test]
    fn invalid_keys_and_values_are_rejected() {
        assert_eq!(
            parse_error("-a=b"),
            "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        let message = parse_error("a=-b");
        assert!(
            message.starts_with(
                "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be"
            ),
            "{message}"
        );
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
