//! Entry points for the fuzz targets in `fuzz/` and for the regression tests that replay
//! their crashers on the stable toolchain. Not part of the API: each function takes the
//! fuzzer's bytes, ignores inputs over its size bound, and panics when an invariant breaks.

use bytes::Bytes;

use crate::continue_token;
use crate::embedded::fuzzing::{decode_change, decode_change_header, encode_change};
use crate::envelope;

/// Longest continue token tried (tokens are a revision and a key: well under 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Longest change record tried.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

const PREFIX: &str = "/apps.kruise.io/imagepulljobs/";

/// Continue tokens: a token that decodes resumes inside the listed prefix (never before it,
/// never through `..`) at a real revision; and a token the server issues for a key under the
/// prefix decodes to just after that key at the same revision.
pub fn continue_token(data: &[u8]) {
    if data.len() > MAX_TOKEN_BYTES {
        return;
    }
    let token = String::from_utf8_lossy(data);
    if let Ok(next) = continue_token::decode(PREFIX, &token) {
        assert!(next.revision > 0, "{token:?}");
        let rest = next
            .start_key
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("{token:?} resumes outside the prefix"));
        assert!(!rest.starts_with('/'), "{token:?}");
        assert!(!rest.split('/').any(|part| part == ".."), "{token:?}");
    }
    // The same bytes as the remainder of a key: a round trip through a token the server made.
    let (revision, remainder) = match data.split_first() {
        Some((&first, rest)) => (u64::from(first) + 1, String::from_utf8_lossy(rest)),
        None => (1, "".into()),
    };
    let key = format!("{PREFIX}{remainder}");
    let issued = continue_token::encode(PREFIX, &key, revision);
    match continue_token::decode(PREFIX, &issued) {
        Ok(next) => {
            assert_eq!(next.revision, revision);
            assert_eq!(next.start_key, format!("{key}\u{0}"));
            assert!(next.start_key > key);
        }
        // Only remainders that would escape the prefix are refused.
        Err(_) => assert!(
            remainder.starts_with('/') || remainder.split('/').any(|part| part == ".."),
            "a token issued for {key:?} was refused"
        ),
    }
}

/// The embedded store's change records: decoding never panics, a record that decodes
/// re-encodes to the same bytes, the header-only decoding agrees with the full one, and the
/// value's envelope opens only to a payload whose seal is the value.
pub fn embedded_record(data: &[u8]) {
    if data.len() > MAX_RECORD_BYTES {
        return;
    }
    let full = decode_change(7, data);
    let header = decode_change_header(7, data);
    assert_eq!(
        full.is_ok(),
        header.is_ok(),
        "full and header decoding disagree"
    );
    let Ok((kind, key, sealed_value)) = full else {
        return;
    };
    let (header_kind, header_key) = header.expect("checked above");
    assert_eq!((kind, key.as_str()), (header_kind, header_key.as_str()));
    assert_eq!(
        encode_change(data).as_deref(),
        Some(data),
        "a decoded record re-encodes differently"
    );
    if let Ok(payload) = envelope::open(&key, Bytes::from(sealed_value.clone())) {
        assert_eq!(envelope::seal(&payload).to_vec(), sealed_value);
    }
    // The value alone, as a read of that version opens it.
    if let Ok(payload) = envelope::open(&key, Bytes::copy_from_slice(data)) {
        assert_eq!(&envelope::seal(&payload)[..], data);
    }
}
