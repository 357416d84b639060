//! All of this crate's integration tests, one module per area, in one binary:
//! one link instead of one per file (each test binary links the whole
//! workspace below it; ~70 of them were most of a clean build's disk and a
//! good part of its time). nextest still runs every test in its own process.

mod accounts_mail;
mod bookmarks;
mod clients;
mod corrupt_stores;
mod fxa_commands;
mod fxa_sign_in;
mod fxa_tokens;
mod history;
mod logins;
mod manager;
mod many_nodes;
mod tabs;
