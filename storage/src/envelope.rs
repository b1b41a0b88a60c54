//! The envelope every backend wraps values in before they reach the disk or etcd: a magic
//! prefix and a CRC-32 of the payload. It lets a read tell damaged or foreign bytes from an
//! object, so corruption surfaces as [`StorageError::Corrupt`] instead of garbage handed to a
//! decoder.

use bytes::{BufMut, Bytes, BytesMut};

use crate::StorageError;

const MAGIC: &[u8; 4] = b"ppl\x01";
const HEADER_LEN: usize = MAGIC.len() + 4;

/// Wraps `payload` for storage.
pub fn seal(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    out.put_slice(MAGIC);
    out.put_u32_le(crc32fast::hash(payload));
    out.put_slice(payload);
    out.freeze()
}

/// The payload of a sealed value, without copying it. `key` only names the culprit in the
/// error.
pub fn open(key: &str, raw: Bytes) -> Result<Bytes, StorageError> {
    let corrupt = |reason: &str| StorageError::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    if raw.len() < HEADER_LEN || &raw[..MAGIC.len()] != MAGIC {
        return Err(corrupt("missing envelope header"));
    }
    let expected = u32::from_le_bytes(raw[MAGIC.len()..HEADER_LEN].try_into().expect("4 bytes"));
    let payload = raw.slice(HEADER_LEN..);
    if crc32fast::hash(&payload) != expected {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(payload)
}

/// Bytes a sealed value of `payload_len` bytes occupies.
pub const fn sealed_len(payload_len: usize) -> usize {
    HEADER_LEN + payload_len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_to_the_same_payload() {
        let sealed = seal(b"{\"kind\":\"NodeImage\"}");
        assert_eq!(sealed.len(), sealed_len(20));
        assert_eq!(&open("k", sealed).unwrap()[..], b"{\"kind\":\"NodeImage\"}");
    }

    #[test]
    fn a_flipped_bit_or_missing_header_is_corrupt() {
        let mut damaged = seal(b"payload").to_vec();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(matches!(
            open("k", damaged.into()),
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            open("k", Bytes::from_static(b"{}")),
            Err(StorageError::Corrupt { .. })
        ));
        assert!(matches!(
            open("k", Bytes::new()),
            Err(StorageError::Corrupt { .. })
        ));
    }
}
