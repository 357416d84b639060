//! Fitting a client record under the server's `max_record_payload_bytes`.
//!
//! A record that does not fit is refused by the server, and a device
//! whose record cannot be uploaded disappears from the others' device
//! lists. Two things make a record grow without bound: commands queued for
//! a device that has not synced in a while, and a very long device name.
//! So, until the encrypted record fits: the oldest commands are dropped
//! first (the newest — the tab just sent — matter most; each drop is
//! logged), then the name is shortened. Other devices' unknown fields are
//! never touched.

use sync15::{OutgoingEnvelope, OutgoingRecord, encrypted_payload_len};

use crate::ClientsError;
use crate::record::{CLIENTS_TTL_SECS, ClientRecord};

/// `record` as an outgoing record whose encrypted payload is at most
/// `max_payload_bytes`, trimmed as the module docs say (if even that
/// cannot make it fit, it is returned as small as it got).
pub(crate) fn fitted(
    mut record: ClientRecord,
    max_payload_bytes: usize,
) -> Result<OutgoingRecord, ClientsError> {
    loop {
        let envelope = OutgoingEnvelope::new(record.id.clone()).with_ttl(CLIENTS_TTL_SECS);
        let outgoing = OutgoingRecord::from_content(envelope, &record)?;
        let size = encrypted_payload_len(outgoing.cleartext.to_json_vec().len());
        if size <= max_payload_bytes {
            return Ok(outgoing);
        }
        if !record.commands.is_empty() {
            let dropped = record.commands.remove(0);
            log::warn!(
                "clients: dropping the {:?} command for {} to fit its record under {max_payload_bytes} bytes",
                dropped.command,
                record.id
            );
            continue;
        }
        // Cut the name by the overshoot, at a character boundary.
        if record.name.chars().count() <= 1 {
            log::warn!("clients: the record of {} does not fit even trimmed", record.id);
            return Ok(outgoing);
        }
        // The payload is base64 of the ciphertext: each byte of name costs
        // about 4/3 bytes of payload (plus up to a cipher block of padding).
        let over = (size - max_payload_bytes) * 3 / 4 + 16;
        let first_char = record.name.chars().next().map_or(1, char::len_utf8);
        let mut cut = record.name.len().saturating_sub(over.max(1)).max(first_char);
        while !record.name.is_char_boundary(cut) {
            cut -= 1;
        }
        record.name.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::{Command, CommandRecord};
    use sync15::Guid;

    fn record(name: &str, commands: usize) -> ClientRecord {
        ClientRecord {
            id: Guid::new("device000001"),
            name: name.into(),
            device_type: "desktop".into(),
            commands: (0..commands)
                .map(|i| CommandRecord {
                    flow_id: None,
                    ..Command::DisplayUri {
                        uri: format!("https://example.com/page/{i}"),
                        sender: "sender000001".into(),
                        title: format!("Page {i}"),
                    }
                    .to_record()
                })
                .collect(),
            version: None,
            protocols: vec!["1.5".into()],
            os: None,
            app_package: None,
            application: None,
            formfactor: None,
            device: None,
            fxa_device_id: None,
            unknown: Default::default(),
        }
    }

    fn size(outgoing: &OutgoingRecord) -> usize {
        encrypted_payload_len(outgoing.cleartext.to_json_vec().len())
    }

    #[test]
    fn the_oldest_commands_go_first() {
        let max = 4096;
        let outgoing = fitted(record("Phone", 500), max).unwrap();
        assert!(size(&outgoing) <= max);
        let commands = outgoing.cleartext.as_map()["commands"]
            .as_array()
            .unwrap()
            .clone();
        assert!(!commands.is_empty() && commands.len() < 500);
        // The newest is kept.
        assert_eq!(
            commands.last().unwrap()["args"][0],
            "https://example.com/page/499"
        );
        assert_eq!(outgoing.cleartext.as_map()["name"], "Phone");
    }

    #[test]
    fn a_long_name_is_shortened_at_a_character_boundary() {
        let max = 2048;
        let name = "é".repeat(5_000);
        let outgoing = fitted(record(&name, 0), max).unwrap();
        assert!(size(&outgoing) <= max);
        let kept = outgoing.cleartext.as_map()["name"].as_str().unwrap().to_owned();
        assert!(!kept.is_empty() && name.starts_with(&kept));
        // Only as much as needed goes.
        assert!(kept.len() > 1000, "{} bytes kept", kept.len());
        // A record that fits is left alone.
        let small = fitted(record("Laptop", 3), max).unwrap();
        assert_eq!(small.cleartext.as_map()["commands"].as_array().unwrap().len(), 3);
    }
}
