//! Go `encoding/json` conventions the wire format inherits from OpenKruise.
//!
//! Go omits a field tagged `omitempty` when it holds its zero value (`0`, `""`, empty slice or
//! map) and treats an empty string enum as unset. These serde hooks reproduce that so our JSON
//! is the JSON an OpenKruise client expects.

/// `deserialize_with` for `Option<E>` fields that Go declares as a string type with `omitempty`:
/// an empty string means "unset", exactly as in Go, so defaulting and validation treat `""` like
/// a missing field.
pub(crate) fn empty_as_none<'de, D, E>(deserializer: D) -> Result<Option<E>, D::Error>
where
    D: serde::Deserializer<'de>,
    E: From<String>,
{
    let raw: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(raw.filter(|s| !s.is_empty()).map(E::from))
}

/// `skip_serializing_if` for Go integers tagged `omitempty`.
pub(crate) fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
