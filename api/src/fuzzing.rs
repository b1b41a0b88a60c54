//! Entry points for the fuzz targets in `fuzz/` and for the regression tests that replay
//! their crashers on the stable toolchain. Not part of the API: each function takes the
//! fuzzer's bytes, ignores inputs over its size bound, and panics when an invariant breaks.

use std::collections::BTreeMap;

use crate::label_selector::{FieldQuery, LabelQuery, parse_field_query, parse_label_query};
use crate::reference::{ImageReference, split_tag};

/// Longest selector or image reference tried (query strings are short; longer inputs only
/// slow the fuzzer down).
pub const MAX_SELECTOR_BYTES: usize = 4096;

fn text(data: &[u8], max: usize) -> Option<&str> {
    if data.len() > max {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// A label query's meaning, independent of the order its requirements and values were
/// written in.
fn label_terms(query: &LabelQuery) -> Vec<(String, &'static str, Vec<String>)> {
    let mut terms: Vec<_> = query
        .requirements()
        .iter()
        .map(|r| {
            let mut values = r.values().to_vec();
            values.sort();
            (r.key().to_owned(), r.operator().as_str(), values)
        })
        .collect();
    terms.sort();
    terms
}

/// `?labelSelector=`: a parsed query, printed and parsed again, is the same query, prints
/// the same, and matches the same label sets.
pub fn label_selector(data: &[u8]) {
    let Some(input) = text(data, MAX_SELECTOR_BYTES) else {
        return;
    };
    let Ok(query) = parse_label_query(input) else {
        return;
    };
    let printed = query.to_string();
    let again = parse_label_query(&printed)
        .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(
        label_terms(&query),
        label_terms(&again),
        "{input:?} printed as {printed:?}"
    );
    assert_eq!(again.to_string(), printed, "{input:?}");
    // The labels the query talks about, with each of its values: both queries must agree.
    let mut labels = BTreeMap::new();
    for r in query.requirements() {
        for value in r.values() {
            labels.insert(r.key().to_owned(), value.clone());
            assert_eq!(query.matches(&labels), again.matches(&labels), "{input:?}");
        }
    }
    assert_eq!(query.matches(&labels), again.matches(&labels), "{input:?}");
    assert_eq!(
        query.matches(&BTreeMap::new()),
        again.matches(&BTreeMap::new())
    );
}

fn field_terms(query: &FieldQuery) -> Vec<String> {
    let mut terms: Vec<String> = query
        .requirements()
        .iter()
        .map(|r| format!("{:?}", (&r.field, r.operator, &r.value)))
        .collect();
    terms.sort();
    terms
}

/// `?fieldSelector=`: a parsed query, printed and parsed again, has the same terms and
/// matches the same field sets.
pub fn field_selector(data: &[u8]) {
    let Some(input) = text(data, MAX_SELECTOR_BYTES) else {
        return;
    };
    let Ok(query) = parse_field_query(input) else {
        return;
    };
    let printed = query.to_string();
    let again = parse_field_query(&printed)
        .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(
        field_terms(&query),
        field_terms(&again),
        "{input:?} printed as {printed:?}"
    );
    let fields: BTreeMap<String, String> = query
        .requirements()
        .iter()
        .map(|r| (r.field.clone(), r.value.clone()))
        .collect();
    assert_eq!(query.matches(&fields), again.matches(&fields), "{input:?}");
    // A pinned value is one every matching field set has (two different pins match nothing,
    // and either may be reported).
    for q in [&query, &again] {
        for r in q.requirements() {
            if let Some(pinned) = q.requires_exact_match(&r.field) {
                let mut pinned_fields = fields.clone();
                pinned_fields.insert(r.field.clone(), r.value.clone());
                if q.matches(&pinned_fields) {
                    assert_eq!(pinned, r.value, "{input:?}");
                }
            }
        }
    }
}

/// Image references: a parsed reference's canonical and familiar forms parse back to the
/// same reference, and the NodeImage key pair agrees with it.
pub fn image_reference(data: &[u8]) {
    let Some(input) = text(data, MAX_SELECTOR_BYTES) else {
        return;
    };
    let _ = split_tag(input);
    let Ok(reference) = ImageReference::parse(input) else {
        return;
    };
    assert!(!reference.domain().is_empty(), "{input:?}");
    let canonical = reference.to_string();
    let reparsed = ImageReference::parse(&canonical).unwrap_or_else(|e| {
        panic!("{input:?} printed as {canonical:?}, which does not parse: {e}")
    });
    // The canonical form adds `:latest` to a reference with neither tag nor digest.
    assert_eq!(reparsed.name(), reference.name(), "{input:?}");
    assert_eq!(reparsed.digest(), reference.digest(), "{input:?}");
    assert_eq!(
        reparsed.tag_or_latest(),
        reference.tag_or_latest(),
        "{input:?}"
    );
    assert_eq!(reparsed.to_string(), canonical, "{input:?}");
    let familiar = reference.familiar_string();
    let from_familiar = ImageReference::parse(&familiar)
        .unwrap_or_else(|e| panic!("{input:?} familiar {familiar:?} does not parse: {e}"));
    assert_eq!(from_familiar, reference, "{input:?} familiar {familiar:?}");
    let (name, tag) = reference.name_and_tag();
    assert_eq!(name, reference.familiar_name());
    assert!(!tag.is_empty(), "{input:?}");
}
