//! Mail the accounts service sends, caught for tests: the codes people
//! would read in their inbox ([`sync_accounts::mail::Outbox`]).

pub use sync_accounts::mail::Outbox;
