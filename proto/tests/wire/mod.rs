//! Reading protobuf tags back from encoded bytes, for the field-number drift tests.

#![allow(dead_code)]

use prost::Message;

/// Protobuf wire types.
pub const VARINT: u8 = 0;
pub const LEN: u8 = 2;

/// The (field number, wire type) of every top-level field in `bytes`, in order.
pub fn tags(mut bytes: &[u8]) -> Vec<(u64, u8)> {
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes);
        let (number, wire_type) = (key >> 3, (key & 7) as u8);
        match wire_type {
            VARINT => {
                read_varint(&mut bytes);
            }
            LEN => {
                let len = usize::try_from(read_varint(&mut bytes)).expect("small length");
                bytes = &bytes[len..];
            }
            1 => bytes = &bytes[8..],
            5 => bytes = &bytes[4..],
            other => panic!("unexpected wire type {other}"),
        }
        found.push((number, wire_type));
    }
    found
}

fn read_varint(bytes: &mut &[u8]) -> u64 {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().expect("truncated varint");
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return value;
        }
    }
    panic!("varint longer than 10 bytes")
}

/// Asserts that `message` encodes to exactly one field with this number and wire type.
#[track_caller]
pub fn assert_single_field(message: &(impl Message + std::fmt::Debug), number: u64, wire_type: u8) {
    assert_eq!(
        tags(&message.encode_to_vec()),
        vec![(number, wire_type)],
        "{message:?}"
    );
}

/// `field!(Message { field: value } => number, wire type)`: the message with only that field
/// set encodes as exactly that one tag.
macro_rules! field {
    ($message:ident { $field:ident : $value:expr } => $number:expr, $wire_type:expr) => {{
        // Messages with one field have nothing left for `..Default::default()` to fill.
        #[allow(clippy::needless_update)]
        let message = $message {
            $field: $value,
            ..Default::default()
        };
        $crate::wire::assert_single_field(&message, $number, $wire_type)
    }};
}
