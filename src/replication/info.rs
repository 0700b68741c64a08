//! What the replication state looks like from outside: INFO's
//! `# Replication` section and ROLE, with Redis 7.0's field names and
//! shapes (Sentinel and client libraries parse them).

use std::fmt::Write as _;

use super::{Master, Replication};
use crate::config::{Config, Param};
use crate::protocol::Reply;
use crate::util::time::now_ms;

/// Seconds since the Unix ms `since` (0 for the future).
fn seconds_since(since: u64) -> u64 {
    now_ms().saturating_sub(since) / 1000
}

/// INFO's `# Replication` (Redis 7.0's fields, in its order).
pub fn write_section(repl: &Replication, master_side: &Master, config: &Config, out: &mut String) {
    let state = repl.lock();
    out.push_str("# Replication\r\n");
    match &state.master {
        None => out.push_str("role:master\r\n"),
        Some(master) => {
            let up = state.link == super::LinkState::Connected;
            let last_io = match (state.has_master_client, state.last_io_ms) {
                (true, Some(at)) => seconds_since(at) as i64,
                _ => -1,
            };
            let syncing = state.link == super::LinkState::Sync;
            let _ = write!(
                out,
                "role:slave\r\nmaster_host:{}\r\nmaster_port:{}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{last_io}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{}\r\nslave_repl_offset:{}\r\n",
                master.host,
                master.port,
                if up { "up" } else { "down" },
                u8::from(syncing),
                repl.read_offset(),
                repl.offset(),
            );
            if syncing {
                let total = state.sync_total_bytes;
                let read = state.sync_read_bytes as i64;
                let left = if total < 0 { -1 } else { total - read };
                let perc = if total > 0 {
                    read as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let _ = write!(
                    out,
                    "master_sync_total_bytes:{total}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{left}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
                    state.last_io_ms.map_or(-1, |at| seconds_since(at) as i64),
                );
            }
            if !up {
                let down = state
                    .down_since_ms
                    .map_or(-1, |at| seconds_since(at) as i64);
                let _ = write!(out, "master_link_down_since_seconds:{down}\r\n");
            }
            let _ = write!(
                out,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
                config.int(Param::ReplicaPriority),
                u8::from(config.int(Param::ReplicaReadOnly) == 0),
                u8::from(config.int(Param::ReplicaAnnounced) == 0),
            );
        }
    }
    let fed = master_side.fed();
    let _ = write!(out, "connected_slaves:{}\r\n", fed.len());
    for (i, f) in fed.iter().enumerate() {
        let _ = write!(
            out,
            "slave{i}:ip={},port={},state={},offset={},lag={}\r\n",
            f.ip,
            f.port,
            f.state.name(),
            f.ack,
            f.last_ack.elapsed().as_secs()
        );
    }
    let backlog = master_side.backlog();
    let (first, held) = backlog.map_or((0, 0), |b| b.held());
    let _ = write!(
        out,
        "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{held}\r\n\r\n",
        state.replid,
        state.replid2,
        offset(repl, master_side, state.master.is_some()),
        state.second_offset,
        u8::from(backlog.is_some()),
        config.int(Param::ReplBacklogSize),
    );
}

/// The node's replication offset: on a replica, the master's stream
/// applied; on a master, its own stream's length (the backlog's), or what
/// it had applied as a replica before its first replica came.
pub fn offset(repl: &Replication, master_side: &Master, replica: bool) -> i64 {
    match master_side.backlog() {
        Some(b) if !replica => b.offset() as i64,
        _ => repl.offset(),
    }
}

/// ROLE: `["master", offset, [replicas]]` or
/// `["slave", host, port, link state, offset]` (Redis 7.0's shapes; the
/// offset is -1 while there is no link).
pub fn role_reply(repl: &Replication, master_side: &Master) -> Reply {
    let state = repl.lock();
    let text = |t: &str| Reply::bulk(t.as_bytes());
    match &state.master {
        None => Reply::Array(vec![
            text("master"),
            Reply::Int(offset(repl, master_side, false)),
            Reply::Array(
                master_side
                    .fed()
                    .into_iter()
                    .map(|f| {
                        Reply::Array(vec![
                            text(&f.ip),
                            text(&f.port.to_string()),
                            text(&f.ack.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
        Some(master) => Reply::Array(vec![
            text("slave"),
            text(&master.host),
            Reply::Int(master.port as i64),
            text(state.link.role_name()),
            Reply::Int(if state.has_master_client {
                repl.offset()
            } else {
                -1
            }),
        ]),
    }
}
