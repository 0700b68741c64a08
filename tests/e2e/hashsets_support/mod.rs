//! Differential checks for the hash and set tests: like
//! `common::assert_same_as_redis`, plus comparisons that ignore the order
//! Redis leaves unspecified (pairs of HGETALL, the elements of a SCAN
//! reply), and a RESP3 mode.
#![allow(dead_code)] // each test file uses a different part

use crate::common::{frame, Raw, Server};
use shardis::protocol::frame::Frame;

/// One step of a differential script.
pub enum Check<'a> {
    /// Identical bytes.
    Same(&'a [&'a str]),
    /// Identical after sorting the top-level elements.
    Bag(&'a [&'a str]),
    /// Identical after sorting the top-level (field, value) pairs: a flat
    /// RESP2 array or a RESP3 map.
    Pairs(&'a [&'a str]),
    /// A SCAN-family reply: the cursor identical, the elements in any order
    /// (`pairs`: as field-value pairs, for HSCAN).
    Scan(&'a [&'a str], bool),
}

fn sort_pairs(kids: &mut Vec<Frame>) {
    let mut pairs: Vec<Vec<Frame>> = kids.chunks(2).map(|c| c.to_vec()).collect();
    pairs.sort();
    *kids = pairs.into_iter().flatten().collect();
}

fn normalize(check: &Check, reply: &[u8]) -> String {
    let mut reply = frame(reply);
    match check {
        Check::Same(_) => {}
        Check::Bag(_) => reply.items.sort(),
        Check::Pairs(_) => sort_pairs(&mut reply.items),
        Check::Scan(_, pairs) => {
            if let Some(elements) = reply.items.get_mut(1) {
                if *pairs {
                    sort_pairs(&mut elements.items);
                } else {
                    elements.items.sort();
                }
            }
        }
    }
    String::from_utf8_lossy(&reply.to_bytes()).into_owned()
}

fn args<'a>(check: &'a Check) -> &'a [&'a str] {
    match check {
        Check::Same(a) | Check::Bag(a) | Check::Pairs(a) | Check::Scan(a, _) => a,
    }
}

fn client(server: &Server, resp3: bool) -> Raw {
    let mut c = server.client();
    if resp3 {
        c.cmd(&["HELLO", "3"]); // the reply names the connection id: not comparable
    }
    c
}

/// Runs `checks` against shardis with `shards` shards and against
/// redis-server, in RESP2 or RESP3, and fails listing every difference.
pub fn same_as_redis(shards: usize, resp3: bool, checks: &[Check]) {
    let ours = Server::shardis(shards, &[]);
    let reference = Server::redis(&[]);
    let (mut a, mut b) = (client(&ours, resp3), client(&reference, resp3));
    let mut problems = Vec::new();
    for check in checks {
        let args = args(check);
        let (ra, rb) = (a.cmd(args), b.cmd(args));
        let (na, nb) = (
            normalize(check, ra.as_bytes()),
            normalize(check, rb.as_bytes()),
        );
        if na != nb {
            problems.push(format!("{args:?}\n  shardis: {na:?}\n  redis:   {nb:?}"));
        }
    }
    crate::common::assert_no_differences(&problems, &format!(" (shards {shards}, resp3 {resp3})"));
}

/// `same_as_redis` with 1 and 3 shards, each in RESP2 and RESP3.
pub fn same_as_redis_everywhere(checks: &[Check]) {
    for shards in [1, 3] {
        for resp3 in [false, true] {
            same_as_redis(shards, resp3, checks);
        }
    }
}

/// Parses a flat reply of bulk strings (an array or set of bulks) into its
/// elements.
pub fn bulks(reply: &str) -> Vec<String> {
    // A bulk's body; "" for a null bulk and any other element.
    frame(reply.as_bytes())
        .items
        .iter()
        .map(|k| String::from_utf8_lossy(k.body.as_deref().unwrap_or_default()).into_owned())
        .collect()
}
