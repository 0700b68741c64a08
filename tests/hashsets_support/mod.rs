//! Differential checks for the hash and set tests: like
//! `common::assert_same_as_redis`, plus comparisons that ignore the order
//! Redis leaves unspecified (pairs of HGETALL, the elements of a SCAN
//! reply), and a RESP3 mode.
#![allow(dead_code)] // each test file uses a different part

use crate::common::{Raw, Server};

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

/// A parsed reply: its first line (plus the body of a bulk) and children.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Node {
    head: Vec<u8>,
    kids: Vec<Node>,
}

fn parse(b: &[u8], pos: &mut usize) -> Node {
    let start = *pos;
    let eol = b[start..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("line end")
        + start;
    *pos = eol + 2;
    let n: i64 = std::str::from_utf8(&b[start + 1..eol])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut kids = Vec::new();
    match b[start] {
        b'$' | b'=' | b'!' if n >= 0 => *pos += n as usize + 2,
        b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| kids.push(parse(b, pos))),
        b'%' | b'|' => (0..2 * n.max(0)).for_each(|_| kids.push(parse(b, pos))),
        _ => {}
    }
    let head = if kids.is_empty() {
        b[start..*pos].to_vec()
    } else {
        b[start..eol + 2].to_vec()
    };
    Node { head, kids }
}

fn encode(n: &Node, out: &mut Vec<u8>) {
    out.extend_from_slice(&n.head);
    n.kids.iter().for_each(|k| encode(k, out));
}

fn sort_pairs(kids: &mut Vec<Node>) {
    let mut pairs: Vec<Vec<Node>> = kids.chunks(2).map(|c| c.to_vec()).collect();
    pairs.sort();
    *kids = pairs.into_iter().flatten().collect();
}

fn normalize(check: &Check, reply: &[u8]) -> String {
    let mut node = parse(reply, &mut 0);
    match check {
        Check::Same(_) => {}
        Check::Bag(_) => node.kids.sort(),
        Check::Pairs(_) => sort_pairs(&mut node.kids),
        Check::Scan(_, pairs) => {
            if let Some(elements) = node.kids.get_mut(1) {
                if *pairs {
                    sort_pairs(&mut elements.kids);
                } else {
                    elements.kids.sort();
                }
            }
        }
    }
    let mut out = Vec::new();
    encode(&node, &mut out);
    String::from_utf8_lossy(&out).into_owned()
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
    assert!(
        problems.is_empty(),
        "{} difference(s) from redis-server (shards {shards}, resp3 {resp3}):\n{}",
        problems.len(),
        problems.join("\n")
    );
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
    let node = parse(reply.as_bytes(), &mut 0);
    node.kids
        .iter()
        .map(|k| {
            let text = String::from_utf8_lossy(&k.head).into_owned();
            let body = text.split_once("\r\n").map(|(_, b)| b).unwrap_or("");
            body.strip_suffix("\r\n").unwrap_or(body).to_owned()
        })
        .collect()
}
