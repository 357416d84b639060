//! Real Firefox in the test suite: Debian's `firefox-esr`, headless,
//! driven over Marionette, signed in through our server's own accounts
//! pages and syncing with our server next to our own devices.

mod pages;
mod process;
pub mod scenarios;
mod world;

pub use process::{CALL_TIMEOUT, Firefox, FirefoxError};
pub use world::{Browser, FirefoxSync, FirefoxWorld, sync_device};
