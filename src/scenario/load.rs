//! The scenario's steady load: GET/SET at a fixed rate on every
//! connection, driven by one thread (ppoll) so the generator takes as
//! little CPU from the server as it can. Each request is sent at its
//! scheduled time (or at once when late) and its latency counts from that
//! time, so a stall is measured in full (no coordinated omission).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes of unread replies a load connection may hold: its replies are
/// small (a 1-in-flight GET or SET), so more means a broken server.
const MAX_PENDING_REPLY_BYTES: usize = 64 * 1024;
/// Longest the loop sleeps, so a stop request is seen promptly.
const MAX_POLL_WAIT: Duration = Duration::from_millis(1);

/// A key and the group it reports in (its shard is / is not the script's).
#[derive(Clone)]
pub struct Key {
    pub name: String,
    pub group: Group,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Group {
    /// Keys on the script's shard.
    ScriptShard,
    /// Keys on every other shard.
    OtherShards,
}

/// How a request ended: loadgen's reply reader tells OK, BUSY and
/// other errors apart.
pub use crate::loadgen::reply::ReplyKind as Outcome;

/// One request: when it was due (µs since the run's start), how long its
/// reply took from then, its key's group and how it ended.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub due_us: u64,
    pub latency_us: u64,
    pub group: Group,
    pub outcome: Outcome,
    /// Which load connection sent it.
    pub conn: u32,
}

/// What a load run saw: every request, and for each connection the core
/// (shard) that accepted it when the server says so (shardis's CLIENT INFO).
pub struct LoadRun {
    pub samples: Vec<Sample>,
    pub conn_cores: Vec<Option<usize>>,
}

pub struct LoadSpec<'a> {
    pub host: &'a str,
    pub port: u16,
    pub connections: usize,
    /// Requests per second on each connection.
    pub rate: u64,
    /// Every `set_every`th request is a SET, the others GETs.
    pub set_every: usize,
    pub value: &'a str,
    pub keys: &'a [Key],
}

struct Conn {
    stream: TcpStream,
    /// Indexes into the key list of the one group this connection loads:
    /// a connection stuck behind a busy shard must not hold up the other
    /// group's figures.
    keys: Vec<usize>,
    pending: Vec<u8>,
    due: Instant,
    in_flight: Option<usize>,
    sent: usize,
}

/// Runs the load until `stop` is set; returns every request's sample.
pub fn run(spec: &LoadSpec, started: Instant, stop: &AtomicBool) -> std::io::Result<LoadRun> {
    let interval = Duration::from_nanos(1_000_000_000 / spec.rate.max(1));
    if spec.keys.is_empty() {
        return Err(std::io::Error::other("no keys to load"));
    }
    let (mut conns, conn_cores) = connect(spec, interval)?;
    let requests: Vec<(Vec<u8>, Vec<u8>)> = spec
        .keys
        .iter()
        .map(|k| {
            (
                super::client::encode(&["GET", &k.name]),
                super::client::encode(&["SET", &k.name, spec.value]),
            )
        })
        .collect();
    let mut samples = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        send_due(&mut conns, &requests, spec.set_every)?;
        let Some(fds) = wait_for_replies(&conns) else {
            continue;
        };
        for (i, (c, fd)) in conns.iter_mut().zip(&fds).enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let Some((key, outcome)) = c.read_reply(&mut chunk)? else {
                continue;
            };
            samples.push(Sample {
                due_us: c.due.saturating_duration_since(started).as_micros() as u64,
                latency_us: (c.due.elapsed().as_micros() as u64).max(1),
                group: spec.keys[key].group,
                outcome,
                conn: i as u32,
            });
            c.due += interval;
            c.in_flight = None;
        }
    }
    Ok(LoadRun {
        samples,
        conn_cores,
    })
}

/// Opens the load connections, each loading one group's keys (they
/// alternate between the groups that have keys), with the core that
/// accepted each when the server says so.
fn connect(
    spec: &LoadSpec,
    interval: Duration,
) -> std::io::Result<(Vec<Conn>, Vec<Option<usize>>)> {
    let groups: Vec<Vec<usize>> = [Group::OtherShards, Group::ScriptShard]
        .iter()
        .map(|g| {
            (0..spec.keys.len())
                .filter(|&k| spec.keys[k].group == *g)
                .collect::<Vec<_>>()
        })
        .filter(|keys| !keys.is_empty())
        .collect();
    let mut conns = Vec::with_capacity(spec.connections);
    let mut conn_cores = Vec::with_capacity(spec.connections);
    for i in 0..spec.connections {
        let mut client = super::client::Client::connect(spec.host, spec.port)?;
        let info = client.cmd(&["CLIENT", "INFO"])?;
        conn_cores.push(
            info.split_whitespace()
                .find_map(|f| f.strip_prefix("shard="))
                .and_then(|v| v.parse().ok()),
        );
        let stream = client.into_stream();
        stream.set_nonblocking(true)?;
        let keys = groups[i % groups.len()].clone();
        conns.push(Conn {
            sent: (i / groups.len()) * keys.len() / spec.connections.max(1),
            keys,
            stream,
            pending: Vec::new(),
            // Spread the connections' send times over one interval, and
            // where each starts in its key list.
            due: Instant::now() + interval * i as u32 / spec.connections.max(1) as u32,
            in_flight: None,
        });
    }
    Ok((conns, conn_cores))
}

/// Sends the next request on every idle connection whose time has come:
/// every `set_every`th a SET of its key, the others GETs.
fn send_due(
    conns: &mut [Conn],
    requests: &[(Vec<u8>, Vec<u8>)],
    set_every: usize,
) -> std::io::Result<()> {
    let now = Instant::now();
    for c in conns
        .iter_mut()
        .filter(|c| c.in_flight.is_none() && c.due <= now)
    {
        let key = c.keys[c.sent % c.keys.len()];
        let (get, set) = &requests[key];
        let request = if (c.sent + 1) % set_every.max(1) == 0 {
            set
        } else {
            get
        };
        write_all(&mut c.stream, request)?;
        c.in_flight = Some(key);
        c.sent += 1;
    }
    Ok(())
}

/// Waits (ppoll) until a connection with a request in flight has input,
/// or an idle one is due, at most MAX_POLL_WAIT; `None` when nothing is
/// readable.
fn wait_for_replies(conns: &[Conn]) -> Option<Vec<libc::pollfd>> {
    let wait = conns
        .iter()
        .filter(|c| c.in_flight.is_none())
        .map(|c| c.due.saturating_duration_since(Instant::now()))
        .min()
        .unwrap_or(MAX_POLL_WAIT)
        .min(MAX_POLL_WAIT);
    let mut fds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: if c.in_flight.is_some() {
                libc::POLLIN
            } else {
                0
            },
            revents: 0,
        })
        .collect();
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: wait.as_nanos() as libc::c_long,
    };
    // SAFETY: `fds` is a live array of `fds.len()` pollfd structs for
    // the whole call; `timeout` is a valid timespec; a null signal mask
    // leaves the mask as it is.
    let ready = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &timeout,
            std::ptr::null(),
        )
    };
    (ready > 0).then_some(fds)
}

impl Conn {
    /// Reads what has arrived; the key and outcome of the request in
    /// flight once its whole reply is in.
    fn read_reply(&mut self, chunk: &mut [u8]) -> std::io::Result<Option<(usize, Outcome)>> {
        match self.stream.read(chunk) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
        if self.pending.len() > MAX_PENDING_REPLY_BYTES {
            return Err(std::io::Error::other("a load reply is too large"));
        }
        let (Some((len, outcome)), Some(key)) = (reply_end(&self.pending)?, self.in_flight) else {
            return Ok(None);
        };
        self.pending.drain(..len);
        Ok(Some((key, outcome)))
    }
}

fn write_all(stream: &mut TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match stream.write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The first complete reply in `buf`: its length and how it ended.
fn reply_end(buf: &[u8]) -> std::io::Result<Option<(usize, Outcome)>> {
    crate::loadgen::reply::read_reply(buf)
        .map(|reply| reply.map(|r| (r.len, r.kind)))
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(buf: &[u8]) -> Option<(usize, Outcome)> {
        reply_end(buf).expect("well-formed")
    }

    #[test]
    fn replies_are_framed_and_classified() {
        assert_eq!(framed(b"+OK\r\n"), Some((5, Outcome::Ok)));
        assert_eq!(framed(b"$-1\r\n"), Some((5, Outcome::Ok)));
        assert_eq!(framed(b"$3\r\nabc\r\n+OK"), Some((9, Outcome::Ok)));
        assert_eq!(framed(b"$3\r\nab"), None);
        assert_eq!(framed(b"+O"), None);
        assert_eq!(
            framed(b"-BUSY Redis is busy\r\n"),
            Some((21, Outcome::Busy))
        );
        assert_eq!(framed(b"-ERR x\r\n"), Some((8, Outcome::Error)));
    }
}
