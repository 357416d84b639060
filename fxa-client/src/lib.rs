//! # fxa-client: sign a person in to their Firefox Account, as Firefox does
//!
//! The client side of Mozilla's accounts service for apps built on this
//! workspace: the onepw sign-in with email and password (V1 and V2 password
//! stretching, emailed confirmation codes, TOTP, unblock codes, the
//! server's spelling of the email), the account keys (`/account/keys`,
//! MAC-checked and unwrapped) and the oldsync scoped key that `sync15`
//! takes as its [`sync15::SyncRootKey`], OAuth access and refresh tokens
//! for the token server, the account's device list, and device commands:
//! Send Tab and Close Tabs to and from the account's other devices
//! (Firefox desktop, Android, iOS), end-to-end encrypted.
//!
//! - [`FirefoxAccount`]: the account and its flows.
//! - [`AccountState`]: the one value to persist, secret (see its docs).
//! - [`crypto`]: the protocol's cryptography, checked against the
//!   published onepw test vectors.
//! - [`Device`], [`IncomingCommand`]: the device list and the commands
//!   received ([`FirefoxAccount::send_tab`], [`FirefoxAccount::close_tabs`],
//!   [`FirefoxAccount::poll_commands`]).
//! - [`FxaError`]: every failure, carrying the server's `errno`.
//!
//! **What it must never do**: depend on an engine or on `sync-manager`
//! (an app joins them; an app that brings its own tokens does not link
//! this crate), keep or write the password or kB, write anything except
//! where the caller says, or print a secret in a `Debug`.

mod account;
mod commands;
pub mod crypto;
mod device;
mod error;
mod http;
mod password_reset;
mod password_upgrade;
mod sign_out;
mod sign_up;
mod state;

pub use account::{
    FIREFOX_DESKTOP_CLIENT_ID, FirefoxAccount, FxaConfig, OLDSYNC_SCOPE, PRODUCTION_AUTH_URL,
    PRODUCTION_TOKEN_SERVER_URL, SignInStatus,
};
pub use commands::{CLOSE_TABS, CommandSender, IncomingCommand, SEND_TAB};
pub use device::{Device, PushSubscription};
pub use error::FxaError;
pub use http::TokenScheme;
pub use state::{AccountState, DeviceRecord, STATE_VERSION};
