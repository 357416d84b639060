//! Authentication: the token server exchange and Hawk request signing.

mod signing;
mod token;

pub use signing::{HawkCredentials, PayloadToHash};
pub use token::{TOKEN_PATH, Token, TokenClient};
