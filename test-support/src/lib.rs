//! # test-support
//!
//! **Not built yet** (issue 4). The in-process sync server on an ephemeral
//! loopback port, simulated devices, record builders and golden Firefox records.
//!
//! It must never be a dependency of non-test code.
