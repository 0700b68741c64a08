//! Small, dependency-free helpers shared by the command layer.

/// Moving helper threads off the shards' cores.
pub mod affinity;
/// Replacing a file atomically and durably (temporary file, sync, rename).
pub mod durable;
/// Redis-compatible glob matching (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`, ...).
pub mod glob;
/// Broken invariants: panic in tests, log and answer an error in release.
pub mod invariant;
/// The classes of keyspace events and their `notify-keyspace-events` letters.
pub mod keyspace_events;
/// Exact x87 `long double` emulation for `INCRBYFLOAT` / `HINCRBYFLOAT`.
pub mod longdouble;
/// Redis-compatible number parsing and formatting (`string2ll`, `strtod`, `%.17g`).
pub mod numbers;
/// `client-output-buffer-limit`'s hard and soft limits, per client.
pub mod output_limit;
/// Redis Cluster key-to-slot hashing (CRC16 with `{hash tag}` support).
pub mod slot;
/// The wall clock in milliseconds, as Redis's `mstime()`.
pub mod time;
