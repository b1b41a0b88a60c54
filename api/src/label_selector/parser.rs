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

use serde_json::Value;

use super::SelectorParseError;
use super::query::{LabelOperator, LabelQuery, LabelRequirement};
use crate::field_error::{FieldError, FieldErrorType};
use crate::object_meta::is_qualified_name;

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
    use std::collections::BTreeMap;

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
}
