//! The metric names a PromQL expression reads (enough PromQL for our dashboard and alerts):
//! string literals, label matchers, range selectors and grouping clauses are dropped, and of
//! the identifiers left, those called like functions and PromQL's keywords are not metrics.

use std::collections::BTreeSet;

/// Aggregation operators, keywords and functions that may appear without parentheses.
const KEYWORDS: [&str; 14] = [
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
];

/// Metric names in `expr`.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let cleaned = drop_clauses(&drop_enclosed(expr));
    let chars: Vec<char> = cleaned.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let preceded_by_digit = start > 0 && chars[start - 1].is_ascii_digit();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let is_call = next == Some(&'(');
            if !is_call && !preceded_by_digit && !KEYWORDS.contains(&word.to_lowercase().as_str()) {
                names.insert(word);
            }
        } else if c == '$' {
            // A Grafana variable outside a selector.
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Without string literals, `{...}` label matchers and `[...]` ranges.
fn drop_enclosed(expr: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for c in expr.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '{' | '[' => depth += 1,
            '}' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Without `by (...)`, `without (...)`, `on (...)`, `ignoring (...)` and `group_*(...)` label
/// lists.
fn drop_clauses(expr: &str) -> String {
    let mut out = expr.to_string();
    for clause in [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ] {
        while let Some(at) = find_clause(&out, clause) {
            let open = out[at..].find('(').map(|o| at + o).expect("a label list");
            let close = out[open..].find(')').map(|c| open + c).expect("closed");
            out.replace_range(at..=close, " ");
        }
    }
    out
}

/// Where `clause` starts as a word followed by `(`.
fn find_clause(expr: &str, clause: &str) -> Option<usize> {
    let bytes = expr.as_bytes();
    let mut from = 0;
    while let Some(pos) = expr[from..].find(clause).map(|p| p + from) {
        let before_ok =
            pos == 0 || !(bytes[pos - 1].is_ascii_alphanumeric() || bytes[pos - 1] == b'_');
        let after = &expr[pos + clause.len()..];
        let after_ok = after.trim_start().starts_with('(')
            && !after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        if before_ok && after_ok {
            return Some(pos);
        }
        from = pos + clause.len();
    }
    None
}

#[test]
fn names_are_found_and_functions_labels_and_clauses_are_not() {
    let names = metric_names(
        r#"histogram_quantile(0.99, sum by (le, verb) (rate(apiserver_request_duration_seconds_bucket{job=~"$job", verb!="WATCH"}[$__rate_interval]))) > 1 and on (instance) up == 0 or absent(leader_election_master_status{name="x"})"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        [
            "apiserver_request_duration_seconds_bucket",
            "leader_election_master_status",
            "up"
        ]
    );
    assert!(metric_names("sum(x_total) / 1e3 * 5m").contains("x_total"));
    assert!(!metric_names("rate(a_total[5m]) * 1e3").contains("e3"));
}
