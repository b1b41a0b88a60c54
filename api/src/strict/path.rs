//! Field paths in the form Kubernetes prints for strict-decoding problems: object keys joined
//! by `.` (map keys too), array positions as `[i]`: `spec.images.nginx.tags[0].foo`.

/// Path of key `key` under `parent` (`parent` empty at the document root).
pub(crate) fn child_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Path of item `index` of the array at `parent`.
pub(crate) fn child_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}
