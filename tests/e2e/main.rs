//! The end-to-end tests in one binary, so that Luau, glommio and the
//! harness link once rather than once per family: each module is the
//! tests of one family (it was a test binary of its own before).

mod common;

mod aof;
mod aof_functions;
mod busy;
mod commands;
mod connection;
mod dump;
mod functions;
mod hashes;
mod keys;
mod lists;
mod loadgen;
mod master;
mod notifications;
mod pubsub;
mod rdb;
mod replication;
mod scenario;
mod scripting;
mod server;
mod sets;
mod strings;
mod transactions;
mod zsets;
