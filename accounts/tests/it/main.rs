//! All of this crate's integration tests, one module per area, in one binary:
//! one link instead of one per file (each test binary links the whole
//! workspace below it; ~70 of them were most of a clean build's disk and a
//! good part of its time). nextest still runs every test in its own process.

mod common;

mod devices;
mod oauth;
mod password;
mod refusals;
mod sign_in;
