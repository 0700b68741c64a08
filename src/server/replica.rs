//! The replica's link to its master, as Redis 7.0's replica makes it
//! (`syncWithMaster` in Redis's src/replication.c): connect; `PING`;
//! `AUTH`; `REPLCONF listening-port` / `ip-address` / `capa eof capa
//! psync2`; `PSYNC <replid> <offset+1>` (or `? -1`); then either
//! `+FULLRESYNC <replid> <offset>` and the RDB payload (`$<len>` or the
//! diskless `$EOF:<mark>` form, after newline keepalives), loaded into
//! every shard, or `+CONTINUE [<new replid>]`; then the command stream,
//! applied through [`Applier`], with `REPLCONF ACK <offset>` every second
//! and on `REPLCONF GETACK`.
//!
//! One task on core 0 ([`supervise`]) runs the link and starts it again a
//! second after it breaks (with PSYNC: a partial resync when the master's
//! backlog still covers the offset). It stops when the master changes
//! (REPLICAOF), and its socket is shut down to stop it at once
//! (CLIENT KILL TYPE master, REPLICAOF). Everything from the master is
//! bounded (line lengths, payload size) and no byte from it can panic.
//!
//! The full sync's payload is held in memory and every shard loads its
//! slots' keys from it in one step: reads see the old data until then. A
//! load does not yield while it parses (no `-LOADING` phase yet).

pub mod apply;

use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;

use crate::config::{
    Param, MAX_MASTER_LINE_BYTES, MAX_STREAM_ROUND_COMMANDS, MAX_SYNC_PAYLOAD_BYTES,
    READ_CHUNK_BYTES, REPLID_BYTES, REPL_ACK_INTERVAL_MS, REPL_LINK_POLL_MS,
    REPL_RETRY_INTERVAL_MS, SYNC_PAYLOAD_PREALLOC_BYTES,
};
use crate::protocol::{ParseLimits, RequestParser};
use crate::replication::{LinkState, MasterAddr, Replication};
use crate::shard::core::Core;
use crate::shard::mesh::Request;
use apply::Applier;

const POLL: Duration = Duration::from_millis(REPL_LINK_POLL_MS);

/// Runs the node's link to its master whenever it has one (on core 0,
/// for the life of the node).
pub async fn supervise(core: Rc<Core>) {
    let node = core.node.clone();
    let repl = &node.replication;
    while !node.is_shutting_down() {
        let generation = repl.generation();
        let Some(master) = repl.master_for(generation) else {
            glommio::timer::sleep(POLL).await;
            continue;
        };
        if let Err(e) = follow(&core, generation, &master).await {
            eprintln!(
                "replica: link with master {}:{}: {e}",
                master.host, master.port
            );
        }
        repl.link_lost(generation);
        // The next attempt in a second, or at once for a new master.
        let retry_at = Instant::now() + Duration::from_millis(REPL_RETRY_INTERVAL_MS);
        while Instant::now() < retry_at
            && repl.generation() == generation
            && !node.is_shutting_down()
        {
            glommio::timer::sleep(POLL).await;
        }
    }
}

/// One life of the link: connect, sync, stream until it breaks.
async fn follow(core: &Rc<Core>, generation: u64, master: &MasterAddr) -> Result<(), String> {
    let repl = &core.node.replication;
    repl.set_link(generation, LinkState::Connecting);
    let mut link = Link {
        core: core.clone(),
        generation,
        stream: None,
        inbuf: BytesMut::new(),
        chunk: vec![0; READ_CHUNK_BYTES],
        last_io: Instant::now(),
        last_ack: Instant::now(),
        streaming: false,
    };
    let stream = link.connect(master).await?;
    if !repl.attach_link(generation, stream.as_raw_fd()) {
        return Err("the master changed".into());
    }
    link.stream = Some(stream);
    let result = link.run().await;
    // Detached before the socket closes (see `Replication::kill_link`).
    repl.detach_link();
    if let Some(mut stream) = link.stream.take() {
        let _ = stream.close().await;
    }
    result
}

struct Link {
    core: Rc<Core>,
    generation: u64,
    stream: Option<TcpStream>,
    /// Bytes from the master not consumed yet.
    inbuf: BytesMut,
    chunk: Vec<u8>,
    /// When the master last sent something (`repl-timeout`).
    last_io: Instant,
    last_ack: Instant,
    /// In the command stream: bytes read count for the offset.
    streaming: bool,
}

impl Link {
    fn repl(&self) -> &Replication {
        &self.core.node.replication
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.core.node.config.int(Param::ReplTimeout).max(1) as u64)
    }

    /// Connects within `repl-timeout` (or until the master changes).
    async fn connect(&mut self, master: &MasterAddr) -> Result<TcpStream, String> {
        use std::net::ToSocketAddrs;
        let addr = (master.host.as_str(), master.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve the master's address: {e}"))?
            .next()
            .ok_or("the master's address resolves to nothing")?;
        let watchdog = async {
            loop {
                glommio::timer::sleep(POLL).await;
                if let Err(e) = self.check_alive() {
                    break Err(e);
                }
            }
        };
        let connect = async {
            TcpStream::connect(addr)
                .await
                .map_err(|e| format!("cannot connect: {e}"))
        };
        let stream = future::or(connect, watchdog).await?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Stops the link when the node stops, the master changed, or the
    /// master has been silent for `repl-timeout`.
    fn check_alive(&self) -> Result<(), String> {
        if self.core.node.is_shutting_down() {
            return Err("shutting down".into());
        }
        if self.repl().generation() != self.generation {
            return Err("the master changed".into());
        }
        if self.last_io.elapsed() > self.timeout() {
            return Err("MASTER timeout: no data nor PING received".into());
        }
        Ok(())
    }

    async fn run(&mut self) -> Result<(), String> {
        self.repl().set_link(self.generation, LinkState::Handshake);
        self.handshake().await?;
        let (replid, offset) = self.repl().psync_args();
        self.send(&["PSYNC", &replid, &offset]).await?;
        let reply = self.read_reply().await?;
        if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
            let mut words = rest.split(' ');
            let (id, offset) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
            let offset: i64 = offset
                .parse()
                .map_err(|_| format!("bad +FULLRESYNC reply: '{reply}'"))?;
            if id.len() != REPLID_BYTES {
                return Err(format!("bad +FULLRESYNC reply: '{reply}'"));
            }
            eprintln!("replica: full resync from the master: {id}:{offset}");
            self.full_sync(id.to_string(), offset).await?;
        } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
            let new_id = rest.trim();
            if new_id.len() == REPLID_BYTES {
                self.repl().continued_as(new_id);
            }
            eprintln!("replica: partial resynchronization accepted");
        } else if reply.starts_with("-NOMASTERLINK") || reply.starts_with("-LOADING") {
            return Err(format!("the master cannot sync now: '{reply}'"));
        } else {
            return Err(format!("unexpected reply to PSYNC: '{reply}'"));
        }
        self.stream_commands().await
    }

    /// PING, AUTH, REPLCONF, as Redis sends them.
    async fn handshake(&mut self) -> Result<(), String> {
        self.send(&["PING"]).await?;
        let reply = self.read_reply().await?;
        if reply.starts_with('-')
            && !reply.starts_with("-NOAUTH")
            && !reply.starts_with("-NOPERM")
            && !reply.starts_with("-ERR operation not permitted")
        {
            return Err(format!("error reply to PING from master: '{reply}'"));
        }
        let config = &self.core.node.config;
        let (pass, user) = (
            config.string(Param::Masterauth),
            config.string(Param::Masteruser),
        );
        if !pass.is_empty() {
            if user.is_empty() {
                self.send(&["AUTH", &pass]).await?;
            } else {
                self.send(&["AUTH", &user, &pass]).await?;
            }
            let reply = self.read_reply().await?;
            if reply.starts_with('-') {
                return Err(format!("unable to AUTH to MASTER: {reply}"));
            }
        }
        let config = &self.core.node.config;
        let port = match config.int(Param::ReplicaAnnouncePort) {
            0 => config.int(Param::Port),
            announced => announced,
        };
        let ip = config.string(Param::ReplicaAnnounceIp);
        self.replconf(&["listening-port", &port.to_string()])
            .await?;
        if !ip.is_empty() {
            self.replconf(&["ip-address", &ip]).await?;
        }
        self.replconf(&["capa", "eof", "capa", "psync2"]).await
    }

    /// A REPLCONF whose error the master may give (an old master): noted.
    async fn replconf(&mut self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["REPLCONF"];
        all.extend_from_slice(args);
        self.send(&all).await?;
        let reply = self.read_reply().await?;
        if reply.starts_with('-') {
            eprintln!(
                "replica: (non critical) master does not understand REPLCONF {}: {reply}",
                args[0]
            );
        }
        Ok(())
    }

    /// `+FULLRESYNC`: receives the payload and loads it into every shard.
    async fn full_sync(&mut self, replid: String, offset: i64) -> Result<(), String> {
        self.repl().set_link(self.generation, LinkState::Sync);
        let header = loop {
            let line = self.read_line().await?;
            // Newlines keep the link alive while the master prepares.
            if !line.is_empty() {
                break line;
            }
        };
        let text = String::from_utf8_lossy(&header).into_owned();
        if header[0] == b'-' {
            return Err(format!("MASTER aborted replication with an error: {text}"));
        }
        if header[0] != b'$' {
            return Err(format!(
                "bad protocol from MASTER, the first byte is not '$' (we received '{text}'), are you sure the host and port are right?"
            ));
        }
        let payload = match header.strip_prefix(b"$EOF:") {
            Some(mark) if mark.len() == REPLID_BYTES => self.payload_until(mark.to_vec()).await?,
            Some(_) => return Err(format!("bad diskless payload header: '{text}'")),
            None => {
                let len = std::str::from_utf8(&header[1..])
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok())
                    .filter(|&n| n <= MAX_SYNC_PAYLOAD_BYTES)
                    .ok_or_else(|| format!("bad payload length: '{text}'"))?;
                self.payload_of(len as usize).await?
            }
        };
        eprintln!(
            "replica: MASTER <-> REPLICA sync: {} bytes received, loading",
            payload.len()
        );
        if let Err(e) = self.load_everywhere(Bytes::from(payload)).await {
            self.repl().forget_history();
            return Err(format!("failed to load the master's payload: {e}"));
        }
        self.repl().full_synced(replid, offset);
        eprintln!("replica: MASTER <-> REPLICA sync: finished with success");
        Ok(())
    }

    /// The `$<len>` payload.
    async fn payload_of(&mut self, len: usize) -> Result<Vec<u8>, String> {
        let mut payload = Vec::with_capacity(len.min(SYNC_PAYLOAD_PREALLOC_BYTES));
        loop {
            let take = (len - payload.len()).min(self.inbuf.len());
            payload.extend_from_slice(&self.inbuf.split_to(take));
            self.repl().sync_progress(len as i64, payload.len() as u64);
            if payload.len() == len {
                return Ok(payload);
            }
            self.fill().await?;
        }
    }

    /// The diskless payload: everything up to the end mark (what follows
    /// the mark is the stream's).
    async fn payload_until(&mut self, mark: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut payload: Vec<u8> = Vec::new();
        loop {
            let searched = payload.len().saturating_sub(mark.len() - 1);
            payload.extend_from_slice(&self.inbuf);
            self.inbuf.clear();
            if let Some(at) = payload[searched..]
                .windows(mark.len())
                .position(|w| w == mark.as_slice())
            {
                let end = searched + at;
                let rest = payload.split_off(end + mark.len());
                payload.truncate(end);
                self.inbuf.extend_from_slice(&rest);
                return Ok(payload);
            }
            if payload.len() as u64 > MAX_SYNC_PAYLOAD_BYTES {
                return Err("the master's payload is too large".into());
            }
            self.repl().sync_progress(-1, payload.len() as u64);
            self.fill().await?;
        }
    }

    /// Every shard loads its slots' keys from `payload` (at once, each on
    /// its own core); an error if any failed.
    async fn load_everywhere(&self, payload: Bytes) -> Result<(), String> {
        let core = &self.core;
        let mut waiting = Vec::new();
        for shard in (0..core.node.shards()).filter(|&s| s != core.shard_id) {
            let (reply, rx) = oneshot::channel();
            let request = Request::LoadSync {
                payload: payload.clone(),
                reply,
            };
            if core.senders.send(shard, request).await.is_err() {
                return Err("a shard has stopped".into());
            }
            waiting.push(rx);
        }
        let mut result = core.load_sync(&payload).await;
        for rx in waiting {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err("a shard has stopped".into()),
            }
        }
        result
    }

    /// The command stream, until the link breaks.
    async fn stream_commands(&mut self) -> Result<(), String> {
        let node = self.core.node.clone();
        let repl = &node.replication;
        repl.set_link(self.generation, LinkState::Connected);
        let mut offset = repl.offset();
        repl.stream_begins(self.inbuf.len());
        self.streaming = true;
        // The first ACK at once: a diskless master starts the stream then.
        self.send_ack(offset).await?;
        let mut parser = RequestParser::new();
        let mut argv = Vec::new();
        let mut applier = Applier::new(self.core.clone());
        // Offset after the last command outside a MULTI block: what is
        // acknowledged (Redis counts a block once its EXEC is applied).
        let mut stable = offset;
        // Bytes of the command being parsed so far.
        let mut consumed = 0;
        let limits = ParseLimits {
            max_bulk_bytes: self.core.node.config.int(Param::ProtoMaxBulkLen) as usize,
            authenticated: true,
        };
        loop {
            let mut commands = 0;
            while commands < MAX_STREAM_ROUND_COMMANDS {
                let before = self.inbuf.len();
                let parsed = parser.parse(&mut self.inbuf, &mut argv, limits);
                consumed += before - self.inbuf.len();
                match parsed {
                    Ok(true) => {
                        let command = std::mem::take(&mut argv);
                        if is_getack(&command) {
                            // As Redis: the ACK counts what came before.
                            applier.flush().await;
                            repl.set_offset(stable);
                            self.send_ack(stable).await?;
                        } else {
                            applier.apply(command).await;
                        }
                        offset += std::mem::take(&mut consumed) as i64;
                        if !applier.in_multi() {
                            stable = offset;
                        }
                        commands += 1;
                    }
                    Ok(false) => break,
                    Err(e) => return Err(format!("the master's stream: {}", e.reply_text())),
                }
            }
            applier.flush().await;
            repl.set_offset(stable);
            if commands < MAX_STREAM_ROUND_COMMANDS {
                self.fill().await?;
            } else {
                self.check_alive()?;
                self.ack_if_due().await?;
            }
        }
    }

    async fn ack_if_due(&mut self) -> Result<(), String> {
        if self.last_ack.elapsed() >= Duration::from_millis(REPL_ACK_INTERVAL_MS) {
            let offset = self.repl().offset();
            self.send_ack(offset).await?;
        }
        Ok(())
    }

    async fn send_ack(&mut self, offset: i64) -> Result<(), String> {
        self.last_ack = Instant::now();
        self.send(&["REPLCONF", "ACK", &offset.to_string()]).await
    }

    async fn send(&mut self, args: &[&str]) -> Result<(), String> {
        let bytes = crate::protocol::encode_command(args);
        let stream = self.stream.as_mut().ok_or("not connected")?;
        stream
            .write_all(&bytes)
            .await
            .map_err(|e| format!("writing to the master: {e}"))
    }

    /// The next non-empty reply line, as text (handshake replies).
    async fn read_reply(&mut self) -> Result<String, String> {
        loop {
            let line = self.read_line().await?;
            if !line.is_empty() {
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }

    /// The next line from the master, without its `\r\n`.
    async fn read_line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(at) = self.inbuf.iter().position(|&b| b == b'\n') {
                let mut line = self.inbuf.split_to(at + 1).to_vec();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.inbuf.len() > MAX_MASTER_LINE_BYTES {
                return Err("a line from the master is too long".into());
            }
            self.fill().await?;
        }
    }

    /// Reads what the master sent next into `inbuf`, checking every
    /// [`POLL`] whether the link must stop, and acknowledging the stream
    /// every second meanwhile.
    async fn fill(&mut self) -> Result<usize, String> {
        loop {
            self.check_alive()?;
            if self.streaming {
                self.ack_if_due().await?;
            }
            let (Some(stream), chunk) = (self.stream.as_mut(), &mut self.chunk) else {
                return Err("not connected".into());
            };
            let read = async { Some(stream.read(chunk).await) };
            let tick = async {
                glommio::timer::sleep(POLL).await;
                None
            };
            match future::or(read, tick).await {
                None => continue,
                Some(Ok(0)) => return Err("connection closed by the master".into()),
                Some(Ok(n)) => {
                    self.inbuf.extend_from_slice(&self.chunk[..n]);
                    self.last_io = Instant::now();
                    self.repl().heard_from_master();
                    if self.streaming {
                        self.repl().stream_read(n);
                    }
                    return Ok(n);
                }
                Some(Err(e)) => return Err(format!("reading from the master: {e}")),
            }
        }
    }
}

/// `REPLCONF GETACK *`: the master asks for an ACK now.
fn is_getack(argv: &[Bytes]) -> bool {
    argv.len() >= 2
        && argv[0].eq_ignore_ascii_case(b"replconf")
        && argv[1].eq_ignore_ascii_case(b"getack")
}
