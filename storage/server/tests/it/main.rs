//! All of this crate's integration tests, one module per area, in one binary:
//! one link instead of one per file (each test binary links the whole
//! workspace below it; ~70 of them were most of a clean build's disk and a
//! good part of its time). nextest still runs every test in its own process.

mod support;

mod accounts;
mod auth;
mod batches;
mod crash;
mod deployment;
mod hostile;
mod logs;
mod memory;
mod nodes;
mod postgres;
mod protocol;
mod retirement;
mod storage_api;
mod timestamps;
mod tokenlib;
