//! The opaque `continue` token of paged lists, shared by every backend so a token means the
//! same thing everywhere: the revision the first page was read at and the key to resume from,
//! relative to the listed prefix (so a token cannot be replayed against another prefix to read
//! outside it). Encoded like kube-apiserver's: base64url of a small JSON document.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde::{Deserialize, Serialize};

use crate::{Revision, StorageError};

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

#[derive(Serialize, Deserialize)]
struct Token {
    v: String,
    rv: Revision,
    start: String,
}

/// Where the next page starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continue {
    /// The revision every page of this list is read at.
    pub revision: Revision,
    /// The first key of the next page (absolute: prefix + remainder).
    pub start_key: String,
}

/// Builds the token for the page after `last_key`, read at `revision`.
pub fn encode(prefix: &str, last_key: &str, revision: Revision) -> String {
    let relative = last_key.strip_prefix(prefix).unwrap_or(last_key);
    // The smallest key greater than `last_key`.
    let start = format!("{relative}\u{0}");
    let token = Token {
        v: TOKEN_VERSION.to_string(),
        rv: revision,
        start,
    };
    URL_SAFE.encode(serde_json::to_vec(&token).expect("token serializes"))
}

/// Reads a token issued by [`encode`] for the same `prefix`.
pub fn decode(prefix: &str, token: &str) -> Result<Continue, StorageError> {
    let invalid = |reason: &str| StorageError::InvalidContinue {
        reason: reason.to_string(),
    };
    let bytes = URL_SAFE
        .decode(token)
        .map_err(|_| invalid("not base64url"))?;
    let token: Token =
        serde_json::from_slice(&bytes).map_err(|_| invalid("not a continue token"))?;
    if token.v != TOKEN_VERSION {
        return Err(invalid("unsupported token version"));
    }
    if token.rv == 0 {
        return Err(invalid("token has no revision"));
    }
    if token.start.starts_with('/') || token.start.split('/').any(|part| part == "..") {
        return Err(invalid("token escapes the listed prefix"));
    }
    Ok(Continue {
        revision: token.rv,
        start_key: format!("{prefix}{}", token.start),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_resumes_just_after_the_last_key_at_the_same_revision() {
        let token = encode("/g/p/", "/g/p/ns/a", 42);
        let next = decode("/g/p/", &token).unwrap();
        assert_eq!(next.revision, 42);
        assert_eq!(next.start_key, "/g/p/ns/a\u{0}");
        assert!(next.start_key.as_str() > "/g/p/ns/a" && next.start_key.as_str() < "/g/p/ns/a0");
    }

    #[test]
    fn garbage_is_an_invalid_continue_error() {
        for bad in [
            "",
            "!!!",
            &URL_SAFE.encode(b"{}"),
            &URL_SAFE.encode(br#"{"v":"x","rv":1,"start":"a"}"#),
        ] {
            assert!(
                matches!(
                    decode("/g/p/", bad),
                    Err(StorageError::InvalidContinue { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_token_cannot_point_outside_its_prefix() {
        let forged = URL_SAFE.encode(br#"{"v":"meta.k8s.io/v1","rv":3,"start":"../secrets/x"}"#);
        assert!(matches!(
            decode("/g/p/", &forged),
            Err(StorageError::InvalidContinue { .. })
        ));
    }
}
