//! A replica's connection once it has asked for the stream (PSYNC or
//! SYNC): a partial resync from the backlog (`+CONTINUE`), or a full sync
//! (`+FULLRESYNC`, the snapshot, then the stream from its cut); then the
//! stream as it grows, while the replica's `REPLCONF ACK`s are read.
//! Also the master's timer: a `PING` into the stream every
//! `repl-ping-replica-period`, as Redis.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::cmd::Session;
use crate::config::{Param, REPLICA_FEED_CHUNK_BYTES, REPLICA_INPUT_LIMIT_BYTES};
use crate::protocol::{ParseLimits, RequestParser};
use crate::replication::backlog::{blank_out, encode_command, Read};
use crate::replication::{Fed, FeedState, Psync};
use crate::shard::background::sync::{self, RdbOut};
use crate::shard::core::Core;

/// How long one write to a replica may wait for it to read (Redis's
/// `repl-timeout` default).
const REPLICA_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often an idle feed checks whether its client was killed.
const IDLE_CHECK: Duration = Duration::from_millis(200);

/// Serves the replica on `stream` until it goes away, is killed, or
/// falls too far behind; `inbuf` holds what it sent after its PSYNC.
pub async fn serve(
    core: Rc<Core>,
    stream: &mut TcpStream,
    inbuf: BytesMut,
    session: &Session,
    psync: Psync,
) -> std::io::Result<()> {
    let master = &core.node.master;
    let client = session.client.id;
    let hello = &session.replica;
    let ip = hello
        .ip_address
        .clone()
        .unwrap_or_else(|| host_of(&session.client.addr));
    master.add_fed(Fed {
        client,
        ip,
        port: hello.listening_port.unwrap_or(0),
        state: FeedState::WaitBgsave,
        ack: 0,
        last_ack: Instant::now(),
    });
    eprintln!("Replica {} asks for synchronization", session.client.addr);
    let result = feed(&core, stream, inbuf, session, &psync).await;
    master.remove_fed(client);
    if let Err(e) = &result {
        eprintln!("Replica {} is gone: {e}", session.client.addr);
    }
    result
}

/// `ip:port` → `ip`.
fn host_of(addr: &str) -> String {
    addr.rsplit_once(':')
        .map_or(addr, |(host, _)| host)
        .to_string()
}

async fn feed(
    core: &Rc<Core>,
    stream: &mut TcpStream,
    inbuf: BytesMut,
    session: &Session,
    psync: &Psync,
) -> std::io::Result<()> {
    let master = &core.node.master;
    let client = session.client.id;
    let (reader, skip, full) = match partial_from(core, psync) {
        Some(from) => {
            let backlog = master
                .backlog()
                .ok_or_else(|| std::io::Error::other("no backlog"))?;
            let reader = backlog.add_reader(from);
            master.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            let line = if session.replica.capa_psync2 {
                format!("+CONTINUE {}\r\n", core.node.replication.lock().replid)
            } else {
                "+CONTINUE\r\n".to_string()
            };
            eprintln!(
                "Partial resynchronization request accepted, from offset {}",
                from + 1
            );
            if let Err(e) = stream.write_all(line.as_bytes()).await {
                backlog.remove_reader(reader);
                return Err(e);
            }
            (reader, Vec::new(), false)
        }
        None => {
            if psync.replid != "?" {
                master.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            }
            let snapshot = sync::begin(core).await.map_err(std::io::Error::other)?;
            master.sync_full.fetch_add(1, Ordering::Relaxed);
            master.set_state(client, FeedState::SendBulk);
            let sent = send_snapshot(core, stream, session, psync, &snapshot).await;
            if let Err(e) = sent {
                if let Some(backlog) = master.backlog() {
                    backlog.remove_reader(snapshot.reader);
                }
                return Err(e);
            }
            eprintln!(
                "Synchronization with replica {} succeeded",
                session.client.addr
            );
            (snapshot.reader, snapshot.cut.in_snapshot, true)
        }
    };
    master.set_state(client, FeedState::Online);
    // After a snapshot ended by its mark, the replica cannot tell the
    // stream's first bytes from the mark's if they come in one read: the
    // stream starts at its first ACK, as Redis's does.
    let after_ack = full && session.replica.capa_eof && !psync.legacy;
    let result = stream_on(core, stream, inbuf, session, reader, skip, after_ack).await;
    if let Some(backlog) = master.backlog() {
        backlog.remove_reader(reader);
    }
    result
}

/// Where a partial resync would go on from (the offset the replica has),
/// if the backlog holds the stream from there.
fn partial_from(core: &Core, psync: &Psync) -> Option<u64> {
    let master = &core.node.master;
    let backlog = master.backlog()?;
    let has = u64::try_from(psync.offset).ok()?.checked_sub(1)?;
    let ours = core.node.replication.lock().replid == psync.replid;
    (ours && backlog.holds_from(has)).then_some(has)
}

/// `+FULLRESYNC replid offset` and the snapshot: streamed between
/// `$EOF:<mark>` and the mark when the replica reads that (`capa eof`),
/// else whole after its length (and without the first line for SYNC).
async fn send_snapshot(
    core: &Core,
    stream: &mut TcpStream,
    session: &Session,
    psync: &Psync,
    snapshot: &sync::Snapshot,
) -> std::io::Result<()> {
    let mut preamble = String::new();
    if !psync.legacy {
        let replid = core.node.replication.lock().replid.clone();
        preamble = format!("+FULLRESYNC {replid} {}\r\n", snapshot.cut.start);
        eprintln!(
            "Full resync requested by replica {}; starting at offset {}",
            session.client.addr, snapshot.cut.start
        );
    }
    if session.replica.capa_eof && !psync.legacy {
        let mark = crate::replication::random_replid();
        preamble.push_str(&format!("$EOF:{mark}\r\n"));
        let mut out = Socket(stream);
        sync::send(core, snapshot, preamble.as_bytes(), &mut out).await?;
        out.write(mark.as_bytes()).await
    } else {
        let mut whole = Memory(Vec::new());
        sync::send(core, snapshot, &[], &mut whole).await?;
        preamble.push_str(&format!("${}\r\n", whole.0.len()));
        let mut out = Socket(stream);
        out.write(preamble.as_bytes()).await?;
        out.write(&whole.0).await
    }
}

/// A write to a replica, given up after [`REPLICA_WRITE_TIMEOUT`]: a
/// replica that stopped reading must not hold a snapshot (and the node's
/// job slot) or its feed for ever.
async fn write_within<W: futures_lite::AsyncWrite + Unpin>(
    out: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    let write = out.write_all(bytes);
    let timeout = async {
        glommio::timer::sleep(REPLICA_WRITE_TIMEOUT).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "it read nothing for too long",
        ))
    };
    futures_lite::future::or(write, timeout).await
}

struct Socket<'a>(&'a mut TcpStream);

impl RdbOut for Socket<'_> {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        write_within(self.0, bytes).await
    }
}

struct Memory(Vec<u8>);

impl RdbOut for Memory {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Whether the replica has acknowledged anything yet, and the sender
/// waiting for that (both sides of one feed, on one task).
#[derive(Default)]
struct FirstAck {
    seen: Cell<bool>,
    sender: Cell<Option<Waker>>,
}

impl FirstAck {
    fn saw(&self) {
        self.seen.set(true);
        if let Some(w) = self.sender.take() {
            w.wake();
        }
    }

    async fn wait(&self) {
        futures_lite::future::poll_fn(|cx| {
            if self.seen.get() {
                return Poll::Ready(());
            }
            self.sender.set(Some(cx.waker().clone()));
            Poll::Pending
        })
        .await
    }
}

/// Sends the stream from reader `reader`'s position (the stretches in
/// `skip` as newlines; from the replica's first ACK with `after_ack`)
/// and reads the replica's acknowledgements, until either side ends.
async fn stream_on(
    core: &Core,
    stream: &mut TcpStream,
    inbuf: BytesMut,
    session: &Session,
    reader: u64,
    skip: Vec<std::ops::Range<u64>>,
    after_ack: bool,
) -> std::io::Result<()> {
    let first_ack = FirstAck::default();
    let (read_half, write_half) = futures_lite::io::split(stream);
    let sending = async {
        if after_ack {
            first_ack.wait().await;
        }
        send_stream(core, write_half, session, reader, skip).await
    };
    let reading = read_acks(core, read_half, inbuf, session, &first_ack);
    futures_lite::future::or(sending, reading).await
}

async fn send_stream(
    core: &Core,
    mut out: futures_lite::io::WriteHalf<&mut TcpStream>,
    session: &Session,
    reader: u64,
    skip: Vec<std::ops::Range<u64>>,
) -> std::io::Result<()> {
    let node = &core.node;
    let backlog = node
        .master
        .backlog()
        .ok_or_else(|| std::io::Error::other("no backlog"))?;
    let mut at = backlog.position(reader).unwrap_or(0);
    loop {
        if session.client.killed.load(Ordering::Relaxed) || node.is_shutting_down() {
            return Ok(());
        }
        if node.replication.is_replica() {
            // As Redis: a node that turns replica drops its replicas (they
            // sync again with it once it is a master, or elsewhere).
            return Err(std::io::Error::other("this node became a replica"));
        }
        let next = futures_lite::future::poll_fn(|cx| {
            match backlog.read(reader, REPLICA_FEED_CHUNK_BYTES, cx.waker()) {
                Ok(Read::Data(bytes)) => Poll::Ready(Some(bytes)),
                Ok(Read::Waiting) => Poll::Pending,
                Err(_) => Poll::Ready(None),
            }
        });
        let idle = async {
            glommio::timer::sleep(IDLE_CHECK).await;
            Some(Vec::new())
        };
        match futures_lite::future::or(next, idle).await {
            Some(mut bytes) => {
                if bytes.is_empty() {
                    continue;
                }
                blank_out(&mut bytes, at, &skip);
                at += bytes.len() as u64;
                write_within(&mut out, &bytes).await?;
            }
            None => {
                return Err(std::io::Error::other(
                    "too far behind: its part of the stream left the backlog",
                ))
            }
        }
    }
}

/// Reads `REPLCONF ACK offset` (and ignores what else a replica sends).
async fn read_acks(
    core: &Core,
    mut input: futures_lite::io::ReadHalf<&mut TcpStream>,
    mut buf: BytesMut,
    session: &Session,
    first_ack: &FirstAck,
) -> std::io::Result<()> {
    let master = &core.node.master;
    let mut parser = RequestParser::new();
    let mut argv: Vec<Bytes> = Vec::new();
    let mut chunk = vec![0u8; 4096];
    let limits = ParseLimits {
        max_bulk_bytes: REPLICA_INPUT_LIMIT_BYTES,
        authenticated: true,
    };
    loop {
        while parser
            .parse(&mut buf, &mut argv, limits)
            .map_err(|e| std::io::Error::other(e.reply_text()))?
        {
            if let [cmd, sub, offset, ..] = argv.as_slice() {
                if cmd.eq_ignore_ascii_case(b"replconf") && sub.eq_ignore_ascii_case(b"ack") {
                    if let Some(offset) = crate::util::numbers::parse_i64(offset) {
                        master.acknowledged(session.client.id, offset.max(0) as u64);
                        first_ack.saw();
                    }
                }
            }
        }
        if buf.len() + parser.pending_bytes() > REPLICA_INPUT_LIMIT_BYTES {
            return Err(std::io::Error::other("its input exceeds the limit"));
        }
        let n = input.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The master's timer, on core 0: a PING into the stream every
/// `repl-ping-replica-period` while replicas are fed, and the backlog's
/// size kept as `repl-backlog-size` says.
pub async fn cron(core: Rc<Core>) {
    let mut last_ping = Instant::now();
    while !core.node.is_shutting_down() {
        glommio::timer::sleep(Duration::from_millis(100)).await;
        let node = &core.node;
        let Some(backlog) = node.master.backlog() else {
            continue;
        };
        backlog.set_keep(node.config.int(Param::ReplBacklogSize) as usize);
        let period = Duration::from_secs(node.config.int(Param::ReplPingReplicaPeriod) as u64);
        if last_ping.elapsed() >= period {
            last_ping = Instant::now();
            if !node.master.fed().is_empty() {
                let mut ping = Vec::new();
                encode_command(&mut ping, &[b"PING"]);
                backlog.append(None, None, &ping, None);
            }
        }
    }
}
