//! The busy-script benchmark (issue 4): while a 2 s write-free busy loop
//! runs on shard 0 with `busy-reply-threshold` 100 ms, how fast is GET/SET
//! traffic to the other shard, on connections of both cores? And what do
//! the yields cost the script? redis-server runs the same load in the same
//! run for comparison (there every command waits, then gets BUSY).
//!
//! `cargo bench --bench busy` (needs `redis-server` on PATH). Options as
//! environment variables: RUNS (3), CONNECTIONS (8), RATE (requests/s per
//! connection, 1000), SCRIPT_MS (2000), THRESHOLD_MS (100).
//!
//! Latency is measured from each request's scheduled send time, so a stall
//! counts in full (no coordinated omission). One thread drives every load
//! connection (ppoll), to take as little CPU from the servers as it can;
//! on a 2-core machine it still shares their cores. SHARDS (2) and
//! SHARDIS_ARGS (extra flags) vary the shardis side; SKIP_COST=1 skips the
//! yield-cost runs.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shardis::shard::shard_of_key;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn start(program: &str, args: &[String]) -> Server {
    let port = free_port();
    let mut all = vec!["--port".to_string(), port.to_string()];
    all.extend_from_slice(args);
    let child = Command::new(program)
        .args(&all)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{program} did not start");
        thread::sleep(Duration::from_millis(20));
    }
    Server { child, port }
}

/// A blocking RESP client: enough for simple replies and bulk strings.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Client {
            writer: stream.try_clone().expect("clone"),
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.writer.write_all(out.as_bytes()).expect("send");
    }

    /// The reply's first line, with a bulk string's body appended.
    fn read(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read");
        if let Some(len) = line
            .strip_prefix('$')
            .and_then(|n| n.trim().parse::<usize>().ok())
        {
            let mut body = vec![0u8; len + 2];
            std::io::Read::read_exact(&mut self.reader, &mut body).expect("read bulk");
            line.push_str(&String::from_utf8_lossy(&body));
        }
        line
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.read()
    }
}

/// What one load connection saw.
struct Seen {
    in_window: Histogram<u64>,
    outside: Histogram<u64>,
    busy: u64,
    errors: u64,
    requests: u64,
    /// The core that accepted the connection (shardis), if known.
    core: Option<u64>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// The script's window, in microseconds since the run started.
#[derive(Default, Clone, Copy)]
struct Window {
    start_us: u64,
    end_us: u64,
}

/// One load connection: a request in flight at a time, each sent at its
/// scheduled time (or at once when late).
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    due: Instant,
    in_flight: bool,
    n: usize,
    keys: Vec<String>,
    samples: Vec<(u64, u64)>,
    seen: Seen,
}

/// Length of the first complete reply in `buf` and whether it is BUSY /
/// another error (simple replies and bulk strings only).
fn complete_reply(buf: &[u8]) -> Option<(usize, bool, bool)> {
    let eol = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[..eol];
    let mut len = eol + 2;
    if line.first() == Some(&b'$') {
        let body: i64 = std::str::from_utf8(&line[1..]).ok()?.parse().ok()?;
        if body >= 0 {
            len += body as usize + 2;
        }
    }
    (buf.len() >= len).then(|| (len, line.starts_with(b"-BUSY"), line.first() == Some(&b'-')))
}

/// Drives every load connection from one thread (ppoll), so the load
/// generator takes as little CPU from the servers as it can.
fn load(
    port: u16,
    connections: u64,
    keys: &[String],
    rate: u64,
    started: Instant,
    stop: Arc<AtomicBool>,
    window: Arc<Mutex<Option<Window>>>,
) -> Vec<Seen> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    // Wake at the scheduled send times, not up to 50 µs after them.
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects
    // this thread's timers.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let mut conns: Vec<Conn> = (0..connections as usize)
        .map(|i| {
            let mut c = Client::connect(port);
            let info = c.cmd(&["CLIENT", "INFO"]);
            let core = info
                .split_whitespace()
                .find_map(|f| f.strip_prefix("shard="))
                .and_then(|v| v.parse().ok());
            c.writer.set_nonblocking(true).expect("nonblocking");
            let mut keys = keys.to_vec();
            let shift = i % keys.len();
            keys.rotate_left(shift);
            Conn {
                stream: c.writer,
                buf: Vec::new(),
                // Spread the connections' send times over one interval.
                due: Instant::now() + interval * i as u32 / connections.max(1) as u32,
                in_flight: false,
                n: 0,
                keys,
                samples: Vec::new(),
                seen: Seen {
                    in_window: histogram(),
                    outside: histogram(),
                    busy: 0,
                    errors: 0,
                    requests: 0,
                    core,
                },
            }
        })
        .collect();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        for c in conns.iter_mut().filter(|c| !c.in_flight && c.due <= now) {
            let key = &c.keys[c.n % c.keys.len()];
            let request = if c.n % 10 == 0 {
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$5\r\nvalue\r\n",
                    key.len()
                )
            } else {
                format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len())
            };
            let mut rest = request.as_bytes();
            while !rest.is_empty() {
                match c.stream.write(rest) {
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => thread::yield_now(),
                    Err(e) => panic!("send: {e}"),
                }
            }
            c.in_flight = true;
        }
        let next_due = conns
            .iter()
            .filter(|c| !c.in_flight)
            .map(|c| c.due)
            .min()
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(1))
            .min(Duration::from_millis(1));
        let mut fds: Vec<libc::pollfd> = conns
            .iter()
            .map(|c| libc::pollfd {
                fd: c.stream.as_raw_fd(),
                events: if c.in_flight { libc::POLLIN } else { 0 },
                revents: 0,
            })
            .collect();
        let timeout = libc::timespec {
            tv_sec: 0,
            tv_nsec: next_due.as_nanos() as libc::c_long,
        };
        // SAFETY: `fds` is a live, correctly sized array of pollfd for the
        // duration of the call; `timeout` is a valid timespec; a null
        // signal mask means "leave the mask alone".
        let ready = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &timeout,
                std::ptr::null(),
            )
        };
        if ready <= 0 {
            continue;
        }
        for (c, fd) in conns.iter_mut().zip(&fds) {
            if fd.revents == 0 {
                continue;
            }
            match c.stream.read(&mut chunk) {
                Ok(0) => panic!("the server closed a load connection"),
                Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("read: {e}"),
            }
            if let Some((len, busy, error)) = complete_reply(&c.buf) {
                c.buf.drain(..len);
                let latency_us = c.due.elapsed().as_micros() as u64;
                let sent_us = (c.due - started).as_micros() as u64;
                if busy {
                    c.seen.busy += 1;
                } else if error {
                    c.seen.errors += 1;
                }
                c.samples.push((sent_us, latency_us.max(1)));
                c.seen.requests += 1;
                c.n += 1;
                c.due += interval;
                c.in_flight = false;
            }
        }
    }
    let window = window.lock().map(|w| *w).unwrap_or_default();
    conns
        .into_iter()
        .map(|mut c| {
            for &(sent_us, latency_us) in &c.samples {
                let inside = window.is_some_and(|w| sent_us >= w.start_us && sent_us <= w.end_us);
                let h = if inside {
                    &mut c.seen.in_window
                } else {
                    &mut c.seen.outside
                };
                let _ = h.record(latency_us);
            }
            c.seen
        })
        .collect()
}

/// A write-free loop of `ms` milliseconds on the wall clock.
fn timed_loop(ms: u64) -> String {
    format!(
        "local t = redis.call('time') local stop = t[1] * 1000000 + t[2] + {us}\n\
         local n = 0\n\
         while true do\n\
           for i = 1, 10000 do n = n + i end\n\
           t = redis.call('time')\n\
           if t[1] * 1000000 + t[2] >= stop then return 1 end\n\
         end",
        us = ms * 1000
    )
}

/// A fixed amount of pure-Lua work, to time the yields' cost.
const FIXED_WORK: &str = "local n = 0 for i = 1, 300000000 do n = n + i end return 1";

struct Outcome {
    /// Other-shard traffic during the script: p50, p99, p99.9, max (µs).
    window: [u64; 4],
    /// The same traffic outside the script.
    baseline: [u64; 4],
    /// p99 during the script on connections of core 0 and of core 1.
    p99_by_core: [Option<u64>; 2],
    busy: u64,
    errors: u64,
    script_ms: u64,
}

fn quantiles(h: &Histogram<u64>) -> [u64; 4] {
    [
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
    ]
}

fn scenario(port: u16, keys: &[String], script_key: &str, opts: &Opts) -> Outcome {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let window = Arc::new(Mutex::new(None));
    let loader = {
        let keys = keys.to_vec();
        let (stop, window) = (stop.clone(), window.clone());
        let (connections, rate) = (opts.connections, opts.rate);
        thread::spawn(move || load(port, connections, &keys, rate, started, stop, window))
    };
    thread::sleep(Duration::from_secs(1));
    let mut script = Client::connect(port);
    let start_us = started.elapsed().as_micros() as u64;
    let reply = script.cmd(&["EVAL", &timed_loop(opts.script_ms), "1", script_key]);
    let end_us = started.elapsed().as_micros() as u64;
    assert_eq!(reply, ":1\r\n", "the busy script failed");
    if let Ok(mut w) = window.lock() {
        *w = Some(Window { start_us, end_us });
    }
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Seen> = loader.join().expect("load thread");
    let mut in_window = histogram();
    let mut outside = histogram();
    let mut by_core = [histogram(), histogram()];
    let (mut busy, mut errors) = (0, 0);
    for s in &seen {
        let _ = in_window.add(&s.in_window);
        let _ = outside.add(&s.outside);
        if let Some(h) = s.core.and_then(|c| by_core.get_mut(c as usize)) {
            let _ = h.add(&s.in_window);
        }
        busy += s.busy;
        errors += s.errors;
    }
    let p99 = |h: &Histogram<u64>| (!h.is_empty()).then(|| h.value_at_quantile(0.99));
    Outcome {
        window: quantiles(&in_window),
        baseline: quantiles(&outside),
        p99_by_core: [p99(&by_core[0]), p99(&by_core[1])],
        busy,
        errors,
        script_ms: (end_us - start_us) / 1000,
    }
}

/// Elapsed ms of FIXED_WORK on shard 0 under the same load.
fn fixed_work_ms(
    port: u16,
    keys: &[String],
    script_key: &str,
    opts: &Opts,
    connections: u64,
) -> u64 {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let window = Arc::new(Mutex::new(None));
    let loader = {
        let keys = keys.to_vec();
        let (stop, window) = (stop.clone(), window.clone());
        let rate = opts.rate;
        thread::spawn(move || load(port, connections, &keys, rate, started, stop, window))
    };
    let mut script = Client::connect(port);
    let t = Instant::now();
    let reply = script.cmd(&["EVAL", FIXED_WORK, "1", script_key]);
    let ms = t.elapsed().as_millis() as u64;
    assert_eq!(reply, ":1\r\n", "the fixed-work script failed");
    stop.store(true, Ordering::Relaxed);
    let _ = loader.join();
    ms
}

struct Opts {
    runs: u64,
    connections: u64,
    rate: u64,
    script_ms: u64,
    threshold_ms: u64,
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn median_opt(v: Vec<Option<u64>>) -> String {
    let v: Vec<u64> = v.into_iter().flatten().collect();
    if v.is_empty() {
        "-".into()
    } else {
        format!("{:.2}", median(v) as f64 / 1000.0)
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn report(name: &str, runs: &[Outcome]) {
    let col = |f: &dyn Fn(&Outcome) -> u64| median(runs.iter().map(f).collect());
    println!(
        "{name:<22} script window: p50 {} p99 {} p99.9 {} max {} ms | outside: p99 {} p99.9 {} ms | BUSY {} errors {} | script {} ms",
        ms(col(&|o| o.window[0])),
        ms(col(&|o| o.window[1])),
        ms(col(&|o| o.window[2])),
        ms(col(&|o| o.window[3])),
        ms(col(&|o| o.baseline[1])),
        ms(col(&|o| o.baseline[2])),
        col(&|o| o.busy),
        col(&|o| o.errors),
        col(&|o| o.script_ms),
    );
    if runs
        .iter()
        .any(|o| o.p99_by_core.iter().any(Option::is_some))
    {
        println!(
            "{:<22} script window p99 by accepting core: core 0 {} ms, core 1 {} ms",
            "",
            median_opt(runs.iter().map(|o| o.p99_by_core[0]).collect()),
            median_opt(runs.iter().map(|o| o.p99_by_core[1]).collect()),
        );
    }
}

fn main() {
    let opts = Opts {
        runs: env("RUNS", 3),
        connections: env("CONNECTIONS", 8),
        rate: env("RATE", 1000),
        script_ms: env("SCRIPT_MS", 2000),
        threshold_ms: env("THRESHOLD_MS", 100),
    };
    let shardis = env!("CARGO_BIN_EXE_shardis");
    let threshold = opts.threshold_ms.to_string();
    // The script's key lives on shard 0; the load's keys on shard 1.
    let script_key = (0..)
        .map(|n| format!("script:{n}"))
        .find(|k| shard_of_key(k.as_bytes(), 2) == 0)
        .expect("a key on shard 0");
    let keys: Vec<String> = (0..)
        .map(|n| format!("key:{n}"))
        .filter(|k| shard_of_key(k.as_bytes(), 2) == 1)
        .take(100)
        .collect();
    println!(
        "busy-script benchmark: {} connections x {} req/s (GET:SET 9:1) to shard 1, a {} ms write-free loop on shard 0, threshold {} ms, median of {} runs",
        opts.connections, opts.rate, opts.script_ms, opts.threshold_ms, opts.runs
    );
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..opts.runs {
        let mut args: Vec<String> = vec![
            "--shards".into(),
            env("SHARDS", 2).to_string(),
            "--busy-reply-threshold".into(),
            threshold.clone(),
        ];
        args.extend(
            std::env::var("SHARDIS_ARGS")
                .ok()
                .iter()
                .flat_map(|a| a.split_whitespace().map(String::from).collect::<Vec<_>>()),
        );
        let s = start(shardis, &args);
        ours.push(scenario(s.port, &keys, &script_key, &opts));
        drop(s);
        let r = start(
            "redis-server",
            &[
                "--save".into(),
                "".into(),
                "--appendonly".into(),
                "no".into(),
                "--lua-time-limit".into(),
                threshold.clone(),
            ],
        );
        theirs.push(scenario(r.port, &keys, &script_key, &opts));
    }
    report("shardis (2 shards)", &ours);
    report("redis-server", &theirs);

    // The yields' cost: a fixed script, alone and under the same load,
    // yielding every 100 us (the default) against not yielding for I/O.
    // Under load the yielding server also serves shard 0's connections
    // meanwhile (the other one leaves them waiting), so that figure is
    // the price of serving them, not of the yields alone.
    if std::env::var("SKIP_COST").is_ok() {
        return;
    }
    for (label, connections) in [("alone", 0), ("under the load", opts.connections)] {
        let mut yielding = Vec::new();
        let mut not_yielding = Vec::new();
        for _ in 0..opts.runs {
            for (yield_us, out) in [("100", &mut yielding), ("0", &mut not_yielding)] {
                let s = start(
                    shardis,
                    &[
                        "--shards".into(),
                        "2".into(),
                        "--busy-reply-threshold".into(),
                        threshold.clone(),
                        "--script-yield-us".into(),
                        yield_us.into(),
                    ],
                );
                out.push(fixed_work_ms(
                    s.port,
                    &keys,
                    &script_key,
                    &opts,
                    connections,
                ));
            }
        }
        let (y, n) = (median(yielding), median(not_yielding));
        println!(
            "fixed script {label}: {y} ms yielding every 100 us, {n} ms with script-yield-us 0 (x{:.2})",
            y as f64 / n as f64
        );
    }
}
