//! Many records at once, on every core.
//!
//! Each record of a downloaded page decrypts, and each record of an upload
//! encrypts, independently of the others, so a page's worth is split across
//! rayon's pool. Below [`PARALLEL_MIN_RECORDS`] the hand-off would cost more
//! than it saves, and the records are done on the calling thread. Results
//! come back in the input's order either way.

use rayon::prelude::*;

use super::KeyBundle;
use crate::bso::{IncomingBso, IncomingRecord, OutgoingBso, OutgoingRecord};
use crate::error::Error;

/// The fewest records worth spreading over several threads: about a quarter
/// of a millisecond of work at 1 KiB each.
pub const PARALLEL_MIN_RECORDS: usize = 64;

impl KeyBundle {
    /// [`KeyBundle::decrypt`] for each of `bsos`, in order.
    pub fn decrypt_all(&self, bsos: &[IncomingBso]) -> Vec<Result<IncomingRecord, Error>> {
        if bsos.len() < PARALLEL_MIN_RECORDS {
            return bsos.iter().map(|bso| self.decrypt(bso)).collect();
        }
        bsos.par_iter()
            .with_min_len(16)
            .map(|bso| self.decrypt(bso))
            .collect()
    }

    /// [`KeyBundle::encrypt`] for each of `records`, in order.
    pub fn encrypt_all(&self, records: &[OutgoingRecord]) -> Vec<Result<OutgoingBso, Error>> {
        if records.len() < PARALLEL_MIN_RECORDS {
            return records.iter().map(|record| self.encrypt(record)).collect();
        }
        records
            .par_iter()
            .with_min_len(16)
            .map(|record| self.encrypt(record))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bso::OutgoingEnvelope;
    use crate::guid::Guid;
    use crate::payload::Cleartext;
    use crate::timestamp::ServerTimestamp;

    fn records(n: usize) -> Vec<OutgoingRecord> {
        (0..n)
            .map(|i| {
                let id = Guid::new(&format!("record{i:05}"));
                OutgoingRecord {
                    cleartext: Cleartext::from_content(&serde_json::json!({"id": id, "n": i}))
                        .expect("a JSON object"),
                    envelope: OutgoingEnvelope::new(id),
                }
            })
            .collect()
    }

    #[test]
    fn many_records_round_trip_in_order_and_a_bad_one_fails_alone() {
        let keys = KeyBundle::new_random().expect("random keys");
        for n in [0, 1, PARALLEL_MIN_RECORDS - 1, PARALLEL_MIN_RECORDS, 1000] {
            let records = records(n);
            let sealed: Vec<OutgoingBso> = keys
                .encrypt_all(&records)
                .into_iter()
                .collect::<Result<_, _>>()
                .expect("encrypted");
            let mut incoming: Vec<IncomingBso> = sealed
                .into_iter()
                .map(|bso| bso.into_incoming(ServerTimestamp::from_millis(1)))
                .collect();
            let tampered = n / 2;
            if let Some(bso) = incoming.get_mut(tampered) {
                let mut payload: serde_json::Value = serde_json::from_str(&bso.payload).expect("JSON");
                payload["hmac"] = serde_json::Value::from("00".repeat(32));
                bso.payload = payload.to_string();
            }
            let opened = keys.decrypt_all(&incoming);
            assert_eq!(opened.len(), n);
            for (i, (opened, record)) in opened.iter().zip(&records).enumerate() {
                match opened {
                    Ok(record_in) => {
                        assert_ne!(i, tampered, "a tampered record decrypted");
                        assert_eq!(record_in.envelope.id, record.envelope.id);
                        assert_eq!(record_in.cleartext, record.cleartext);
                    }
                    Err(e) => assert_eq!(i, tampered, "record {i} of {n} failed: {e}"),
                }
            }
        }
    }
}
