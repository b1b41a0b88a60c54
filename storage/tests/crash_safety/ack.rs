//! The line a writer prints after a write was acknowledged (returned `Ok`, so it is durable):
//! `ack <revision> <create|update|delete> <key> <value>`, value `-` for a delete. Keys and
//! values hold no spaces.

use prepull_storage::{EventType, Revision};

/// One acknowledged write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub revision: Revision,
    pub event_type: EventType,
    pub key: String,
    /// `None` for a delete.
    pub value: Option<String>,
}

impl Ack {
    pub fn line(&self) -> String {
        let op = match self.event_type {
            EventType::Created => "create",
            EventType::Updated => "update",
            EventType::Deleted => "delete",
        };
        let value = self.value.as_deref().unwrap_or("-");
        format!("ack {} {op} {} {value}\n", self.revision, self.key)
    }

    /// Parses a line printed by [`Ack::line`] (without its newline); `None` for other lines.
    pub fn parse(line: &str) -> Option<Ack> {
        let mut fields = line.split(' ');
        if fields.next()? != "ack" {
            return None;
        }
        let revision = fields.next()?.parse().ok()?;
        let event_type = match fields.next()? {
            "create" => EventType::Created,
            "update" => EventType::Updated,
            "delete" => EventType::Deleted,
            _ => return None,
        };
        let key = fields.next()?.to_string();
        let value = match fields.next()? {
            "-" if event_type == EventType::Deleted => None,
            value => Some(value.to_string()),
        };
        fields.next().is_none().then_some(Ack {
            revision,
            event_type,
            key,
            value,
        })
    }
}

/// The acknowledgements in `output`: complete lines only (a kill can cut the last one short,
/// and a write whose ack was not printed in full counts as not acknowledged).
pub fn complete_acks(output: &[u8]) -> Result<Vec<Ack>, String> {
    let text = String::from_utf8_lossy(output);
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    complete
        .lines()
        .filter(|line| line.starts_with("ack "))
        .map(|line| Ack::parse(line).ok_or_else(|| format!("malformed ack line {line:?}")))
        .collect()
}
