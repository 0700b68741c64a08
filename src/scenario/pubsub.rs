//! Pub/Sub load for the scenario bench: subscribers on many connections
//! (read by a few threads with `poll(2)`), publishers pipelining PUBLISH
//! with a timestamp in each message, and what arrived: messages delivered
//! per second and publish-to-receive latency.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::client::Client;
use crate::protocol::encode_command_into;
use crate::protocol::frame::{decode, FrameLimits};

/// Bounds on one message frame (the payloads are small).
const LIMITS: FrameLimits = FrameLimits {
    max_bytes: 1 << 20,
    max_depth: 4,
};
/// Once publishing stops the readers wait for the last messages while
/// they keep arriving; a message still missing after this long with none
/// arriving counts as lost.
const DRAIN_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Latencies the histograms hold, at most (longer ones are clamped).
const MAX_LATENCY_US: u64 = 60_000_000;
/// Connections tried for a publisher on a given shard.
const CONNECT_TRIES: usize = 40;
/// Bytes of the timestamp at the start of each payload (hex nanoseconds).
const STAMP_BYTES: usize = 16;

/// One Pub/Sub load.
#[derive(Debug, Clone)]
pub struct PubsubSpec {
    pub host: String,
    pub port: u16,
    /// Channels `ch:0` ... ; each gets `subscribers_per_channel`
    /// connections of its own.
    pub channels: usize,
    pub subscribers_per_channel: usize,
    /// Publisher connections, each on a thread of its own, publishing to
    /// the channels in turn. With `publisher_cores` > 1 publisher `i` is
    /// served by shard `i % publisher_cores` (shardis reports its shard in
    /// CLIENT INFO; redis-server takes any connection).
    pub publishers: usize,
    pub publisher_cores: usize,
    /// PUBLISH commands in flight per publisher.
    pub pipeline: usize,
    /// Batches of `pipeline` PUBLISHes per second per publisher, each
    /// stamped with its scheduled time (no coordinated omission); 0: as
    /// fast as the replies come.
    pub batches_per_sec: u64,
    /// Bytes of each message (at least the timestamp's).
    pub payload_bytes: usize,
    pub duration: Duration,
    /// Threads reading the subscribers.
    pub reader_threads: usize,
}

/// What a load measured.
#[derive(Debug, Clone)]
pub struct PubsubResult {
    pub published: u64,
    /// PUBLISH replies added up: the receivers the server counted.
    pub receivers_counted: u64,
    pub delivered: u64,
    pub delivered_per_sec: f64,
    pub publish_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// Runs the load once; an error if a connection fails.
pub fn run(spec: &PubsubSpec) -> std::io::Result<PubsubResult> {
    let mut subscribers = Vec::new();
    for ch in 0..spec.channels {
        for _ in 0..spec.subscribers_per_channel {
            let mut c = Client::connect(&spec.host, spec.port)?;
            c.cmd(&["SUBSCRIBE", &format!("ch:{ch}")])?;
            let stream = c.into_stream();
            stream.set_nonblocking(true)?;
            subscribers.push(stream);
        }
    }
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let threads = spec.reader_threads.max(1);
    let mut groups: Vec<Vec<TcpStream>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, s) in subscribers.into_iter().enumerate() {
        groups[i % threads].push(s);
    }
    let readers: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let (stop, delivered) = (stop.clone(), delivered.clone());
            std::thread::spawn(move || read_messages(group, epoch, &stop, &delivered))
        })
        .collect();
    let publishers: Vec<_> = (0..spec.publishers)
        .map(|i| {
            let spec = spec.clone();
            std::thread::spawn(move || publish(&spec, i, epoch))
        })
        .collect();
    let (mut published, mut counted) = (0, 0);
    for p in publishers {
        let (n, receivers) = p
            .join()
            .map_err(|_| std::io::Error::other("a publisher"))??;
        published += n;
        counted += receivers;
    }
    let publish_secs = epoch.elapsed().as_secs_f64();
    let (mut seen, mut last_progress) = (delivered.load(Ordering::Relaxed), Instant::now());
    while seen < counted && last_progress.elapsed() < DRAIN_IDLE_TIMEOUT {
        std::thread::sleep(Duration::from_millis(5));
        let now = delivered.load(Ordering::Relaxed);
        if now > seen {
            (seen, last_progress) = (now, Instant::now());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut histogram = latency_histogram();
    let mut last_ns = 0;
    for r in readers {
        let (h, last) = r.join().map_err(|_| std::io::Error::other("a reader"))??;
        histogram.add(&h).map_err(std::io::Error::other)?;
        last_ns = last_ns.max(last);
    }
    let delivered = delivered.load(Ordering::Relaxed);
    // Delivered per second over the time until the last one arrived.
    let delivery_secs = if last_ns > 0 {
        last_ns as f64 / 1e9
    } else {
        publish_secs
    };
    Ok(PubsubResult {
        published,
        receivers_counted: counted,
        delivered,
        delivered_per_sec: delivered as f64 / delivery_secs.max(1e-9),
        publish_per_sec: published as f64 / publish_secs.max(1e-9),
        p50_us: histogram.value_at_quantile(0.5),
        p99_us: histogram.value_at_quantile(0.99),
    })
}

fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// A publisher connection served by shard `shard` (any connection when
/// the server reports no shard, or none lands there: it has fewer).
fn connect_on(spec: &PubsubSpec, shard: usize) -> std::io::Result<Client> {
    for _ in 0..CONNECT_TRIES {
        let mut c = Client::connect(&spec.host, spec.port)?;
        if spec.publisher_cores <= 1 {
            return Ok(c);
        }
        let info = c.cmd(&["CLIENT", "INFO"])?;
        let served_by = info
            .split_whitespace()
            .find_map(|f| f.strip_prefix("shard="))
            .and_then(|n| n.parse::<usize>().ok());
        if served_by.is_none_or(|s| s == shard) {
            return Ok(c);
        }
    }
    Client::connect(&spec.host, spec.port)
}

/// Publisher `index`: PUBLISH to the channels in turn, `pipeline` in
/// flight, until the spec's duration is over. Returns the messages sent
/// and the receivers the replies counted.
fn publish(spec: &PubsubSpec, index: usize, epoch: Instant) -> std::io::Result<(u64, u64)> {
    let mut c = connect_on(spec, index % spec.publisher_cores.max(1))?;
    let channels: Vec<String> = (0..spec.channels).map(|ch| format!("ch:{ch}")).collect();
    let padding = "x".repeat(spec.payload_bytes.saturating_sub(STAMP_BYTES));
    let mut next = index;
    let (mut sent, mut counted) = (0u64, 0u64);
    let mut batch = Vec::new();
    let interval = (spec.batches_per_sec > 0)
        .then(|| Duration::from_nanos(1_000_000_000 / spec.batches_per_sec));
    let mut scheduled = Duration::ZERO;
    while epoch.elapsed() < spec.duration {
        batch.clear();
        let stamp_at = match interval {
            Some(interval) => {
                scheduled += interval;
                if let Some(wait) = scheduled.checked_sub(epoch.elapsed()) {
                    std::thread::sleep(wait);
                }
                Some(scheduled)
            }
            None => None,
        };
        for _ in 0..spec.pipeline.max(1) {
            let at = stamp_at.unwrap_or_else(|| epoch.elapsed());
            let stamp = format!("{:016x}{padding}", at.as_nanos() as u64);
            let channel = &channels[next % channels.len()];
            next += 1;
            encode_command_into(&mut batch, &["PUBLISH", channel, &stamp]);
        }
        c.stream_mut().write_all(&batch)?;
        for _ in 0..spec.pipeline.max(1) {
            let reply = c.read()?;
            let n = reply.trim_start_matches(':').trim_end().parse::<u64>();
            counted += n.map_err(|_| std::io::Error::other(format!("PUBLISH: {reply}")))?;
            sent += 1;
        }
    }
    Ok((sent, counted))
}

/// Reads every subscriber of `group` until `stop`: counts the messages
/// in `delivered`; the latencies (from each message's timestamp) and when
/// the last message arrived (ns after `epoch`).
fn read_messages(
    group: Vec<TcpStream>,
    epoch: Instant,
    stop: &AtomicBool,
    delivered: &AtomicU64,
) -> std::io::Result<(Histogram<u64>, u64)> {
    let mut histogram = latency_histogram();
    let mut buffers: Vec<Vec<u8>> = group.iter().map(|_| Vec::new()).collect();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut last_ns = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut fds: Vec<libc::pollfd> = group
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live, exclusively borrowed array of
        // `fds.len()` pollfd structs for the duration of the call, and
        // every descriptor belongs to a stream in `group`, open here.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 50) };
        if ready <= 0 {
            continue;
        }
        for (i, fd) in fds.iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            loop {
                match (&group[i]).read(&mut chunk) {
                    Ok(0) => return Err(std::io::Error::other("a subscriber was closed")),
                    Ok(n) => buffers[i].extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            let mut used = 0;
            while let Some((frame, len)) =
                decode(&buffers[i][used..], &LIMITS).map_err(std::io::Error::other)?
            {
                used += len;
                let is_message = frame.items.first().is_some_and(|k| k.text() == b"message");
                let Some(payload) = frame.items.get(2).filter(|_| is_message) else {
                    continue;
                };
                let now = epoch.elapsed().as_nanos() as u64;
                let sent =
                    std::str::from_utf8(&payload.text()[..STAMP_BYTES.min(payload.text().len())])
                        .ok()
                        .and_then(|s| u64::from_str_radix(s, 16).ok())
                        .unwrap_or(now);
                let _ =
                    histogram.record((now.saturating_sub(sent) / 1000).clamp(1, MAX_LATENCY_US));
                delivered.fetch_add(1, Ordering::Relaxed);
                last_ns = now;
            }
            buffers[i].drain(..used);
        }
    }
    Ok((histogram, last_ns))
}
