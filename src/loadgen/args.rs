//! The command line, with memtier_benchmark's flag names, defaults and
//! meanings, and its translation into a [`Plan`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;

use super::keys::{KeyPattern, KeySpace};
use super::plan::{CommandSpec, Credentials, Limit, Plan};
use super::request::Template;

/// memtier's requests per client when neither -n nor --test-time is given.
const DEFAULT_REQUESTS_PER_CLIENT: u64 = 10_000;
/// Most percentiles `--print-percentiles` may ask for.
const MAX_PERCENTILES: usize = 16;

/// A memtier_benchmark-style load generator for Redis-compatible servers.
///
/// By default every client sends SET and GET of `memtier-<n>` keys in the
/// ratio 1:10, as memtier does; `--command` replaces them with custom
/// commands. Latency is per reply, in milliseconds in the report.
#[derive(Parser, Debug, Clone)]
#[command(name = "shardis-bench", version)]
pub struct BenchArgs {
    /// Server address.
    #[arg(short = 's', long = "server", default_value = "127.0.0.1")]
    pub server: String,
    /// Server port.
    #[arg(short, long, default_value_t = 6379)]
    pub port: u16,
    /// Worker threads, each driving its own clients.
    #[arg(short, long, default_value_t = 4)]
    pub threads: usize,
    /// Clients (connections) per thread.
    #[arg(short, long, default_value_t = 50)]
    pub clients: usize,
    /// Requests each client keeps in flight.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    /// SET:GET ratio: that many SETs in a row, then that many GETs.
    #[arg(long, default_value = "1:10", value_parser = parse_ratio)]
    pub ratio: Ratio,
    /// Value size in bytes (`x` repeated, as memtier sends).
    #[arg(short = 'd', long, default_value_t = 32)]
    pub data_size: usize,
    /// Key prefix; keys are the prefix followed by a number.
    #[arg(long, default_value = "memtier-")]
    pub key_prefix: String,
    /// SET:GET key patterns: R random, S sequential, G gaussian, P parallel
    /// (sequential over each client's own slice of the key range).
    #[arg(long, default_value = "R:R", value_parser = parse_key_patterns)]
    pub key_pattern: KeyPatterns,
    /// Smallest key number.
    #[arg(long, default_value_t = 0)]
    pub key_minimum: u64,
    /// Largest key number.
    #[arg(long, default_value_t = 10_000_000)]
    pub key_maximum: u64,
    /// Standard deviation of the G pattern (default: key range / 6).
    #[arg(long)]
    pub key_stddev: Option<f64>,
    /// Median of the G pattern (default: the middle of the key range).
    #[arg(long)]
    pub key_median: Option<f64>,
    /// Run for this many seconds instead of a number of requests.
    #[arg(long, conflicts_with = "requests")]
    pub test_time: Option<u64>,
    /// Requests per client (default 10000).
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// Requests per second per connection, sent at fixed intervals; latency
    /// then counts from each request's scheduled time.
    #[arg(long)]
    pub rate_limiting: Option<u64>,
    /// Give each client its own random seed (otherwise all clients draw
    /// the same key sequence).
    #[arg(long)]
    pub distinct_client_seed: bool,
    /// Seed from the clock instead of a constant.
    #[arg(long)]
    pub randomize: bool,
    /// A custom command, arguments split on spaces, with `__key__` and
    /// `__data__` placeholders; repeat for several. Replaces SET/GET.
    #[arg(long)]
    pub command: Vec<String>,
    /// How many times in a row each --command is sent (in order; default 1).
    #[arg(long)]
    pub command_ratio: Vec<u32>,
    /// Key pattern of each --command (in order; default R).
    #[arg(long, value_parser = parse_key_pattern)]
    pub command_key_pattern: Vec<KeyPattern>,
    /// Latency percentiles in the report, e.g. 50,99,99.9.
    #[arg(long, default_value = "50,99,99.9", value_parser = parse_percentiles)]
    pub print_percentiles: Percentiles,
    /// Write the results, with a per-second time series, as JSON.
    #[arg(long)]
    pub json_out_file: Option<PathBuf>,
    /// AUTH password, or USER:PASSWORD.
    #[arg(short = 'a', long)]
    pub authenticate: Option<String>,
}

/// SETs and GETs in one turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    pub sets: u32,
    pub gets: u32,
}

/// Key patterns of SET and of GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPatterns {
    pub set: KeyPattern,
    pub get: KeyPattern,
}

/// Percentiles to report, in (0, 100].
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles(pub Vec<f64>);

pub fn parse_ratio(text: &str) -> Result<Ratio, String> {
    let (sets, gets) = text
        .split_once(':')
        .ok_or_else(|| format!("ratio {text:?} is not SET:GET, e.g. 1:10"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("ratio {text:?}: {part:?} is not a count"))
    };
    let ratio = Ratio {
        sets: number(sets)?,
        gets: number(gets)?,
    };
    if ratio.sets == 0 && ratio.gets == 0 {
        return Err("ratio 0:0 sends nothing".into());
    }
    Ok(ratio)
}

pub fn parse_key_pattern(text: &str) -> Result<KeyPattern, String> {
    KeyPattern::from_letter(text.trim())
}

pub fn parse_key_patterns(text: &str) -> Result<KeyPatterns, String> {
    let (set, get) = text
        .split_once(':')
        .ok_or_else(|| format!("key pattern {text:?} is not SET:GET, e.g. R:R"))?;
    Ok(KeyPatterns {
        set: parse_key_pattern(set)?,
        get: parse_key_pattern(get)?,
    })
}

pub fn parse_percentiles(text: &str) -> Result<Percentiles, String> {
    let values = text
        .split(',')
        .map(|part| {
            let value: f64 = part
                .trim()
                .parse()
                .map_err(|_| format!("percentile {part:?} is not a number"))?;
            if value > 0.0 && value <= 100.0 {
                Ok(value)
            } else {
                Err(format!("percentile {value} is not in (0, 100]"))
            }
        })
        .collect::<Result<Vec<f64>, String>>()?;
    if values.len() > MAX_PERCENTILES {
        return Err(format!("at most {MAX_PERCENTILES} percentiles"));
    }
    Ok(Percentiles(values))
}

impl BenchArgs {
    /// The plan these flags describe.
    pub fn plan(&self) -> Result<Plan, String> {
        let mut space = KeySpace::prefixed(&self.key_prefix, self.key_minimum, self.key_maximum);
        space.stddev = self.key_stddev;
        space.median = self.key_median;
        space.validate()?;
        let keys = Arc::new(space);
        let commands = if self.command.is_empty() {
            self.set_get(&keys)?
        } else {
            self.custom_commands(&keys)?
        };
        let mut plan = Plan::new(&self.server, self.port, commands);
        plan.threads = self.threads;
        plan.clients_per_thread = self.clients;
        plan.pipeline = self.pipeline;
        plan.data_size = self.data_size;
        plan.limit = match (self.test_time, self.requests) {
            (Some(secs), _) => Limit::Duration(Duration::from_secs(secs)),
            (None, n) => Limit::RequestsPerClient(n.unwrap_or(DEFAULT_REQUESTS_PER_CLIENT)),
        };
        plan.rate_per_connection = self.rate_limiting;
        plan.seed = if self.randomize {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or_default()
        } else {
            0
        };
        plan.distinct_client_seed = self.distinct_client_seed;
        plan.credentials = self.authenticate.as_deref().map(credentials);
        plan.validate().map_err(|e| e.to_string())?;
        Ok(plan)
    }

    fn set_get(&self, keys: &Arc<KeySpace>) -> Result<Vec<CommandSpec>, String> {
        Ok(vec![
            CommandSpec {
                label: "Sets".into(),
                template: Template::parse("SET __key__ __data__")?,
                ratio: self.ratio.sets,
                pattern: self.key_pattern.set,
                keys: keys.clone(),
            },
            CommandSpec {
                label: "Gets".into(),
                template: Template::parse("GET __key__")?,
                ratio: self.ratio.gets,
                pattern: self.key_pattern.get,
                keys: keys.clone(),
            },
        ])
    }

    fn custom_commands(&self, keys: &Arc<KeySpace>) -> Result<Vec<CommandSpec>, String> {
        if self.command_ratio.len() > self.command.len()
            || self.command_key_pattern.len() > self.command.len()
        {
            return Err("more --command-ratio or --command-key-pattern than --command".into());
        }
        let mut specs: Vec<CommandSpec> = Vec::new();
        for (i, text) in self.command.iter().enumerate() {
            let template = Template::parse(text)?;
            let name = template.name();
            let same_name = specs.iter().filter(|s| s.template.name() == name).count();
            let label = if same_name == 0 {
                name
            } else {
                format!("{name} #{}", same_name + 1)
            };
            specs.push(CommandSpec {
                label,
                template,
                ratio: self.command_ratio.get(i).copied().unwrap_or(1),
                pattern: self
                    .command_key_pattern
                    .get(i)
                    .copied()
                    .unwrap_or(KeyPattern::Random),
                keys: keys.clone(),
            });
        }
        Ok(specs)
    }
}

/// `-a PASSWORD` or `-a USER:PASSWORD`, as memtier reads it.
fn credentials(text: &str) -> Credentials {
    match text.split_once(':') {
        Some((user, password)) => Credentials {
            user: Some(user.to_string()),
            password: password.to_string(),
        },
        None => Credentials {
            user: None,
            password: text.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> Result<BenchArgs, clap::Error> {
        BenchArgs::try_parse_from(std::iter::once("shardis-bench").chain(flags.iter().copied()))
    }

    #[test]
    fn memtier_defaults() {
        let parsed = args(&[]).expect("defaults parse");
        let plan = parsed.plan().expect("defaults are a valid plan");
        assert_eq!((plan.server.as_str(), plan.port), ("127.0.0.1", 6379));
        assert_eq!(
            (plan.threads, plan.clients_per_thread, plan.pipeline),
            (4, 50, 1)
        );
        assert_eq!(plan.limit, Limit::RequestsPerClient(10_000));
        assert_eq!(plan.data_size, 32);
        let labels: Vec<&str> = plan.commands.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["Sets", "Gets"]);
        assert_eq!((plan.commands[0].ratio, plan.commands[1].ratio), (1, 10));
        assert_eq!(plan.commands[0].pattern, KeyPattern::Random);
        assert_eq!(
            (plan.commands[0].keys.min, plan.commands[0].keys.max),
            (0, 10_000_000)
        );
        assert_eq!(
            parsed.print_percentiles,
            Percentiles(vec![50.0, 99.0, 99.9])
        );
    }

    #[test]
    fn ratio() {
        assert_eq!(parse_ratio("1:10"), Ok(Ratio { sets: 1, gets: 10 }));
        assert_eq!(parse_ratio("0:1"), Ok(Ratio { sets: 0, gets: 1 }));
        assert!(parse_ratio("0:0").is_err());
        assert!(parse_ratio("1").is_err());
        assert!(parse_ratio("a:1").is_err());
        assert!(parse_ratio("-1:1").is_err());
        assert!(args(&["--ratio", "1-10"]).is_err());
    }

    #[test]
    fn key_patterns() {
        assert_eq!(
            parse_key_patterns("S:R"),
            Ok(KeyPatterns {
                set: KeyPattern::Sequential,
                get: KeyPattern::Random
            })
        );
        assert_eq!(
            parse_key_patterns("G:P"),
            Ok(KeyPatterns {
                set: KeyPattern::Gaussian,
                get: KeyPattern::Parallel
            })
        );
        assert!(parse_key_patterns("R").is_err());
        assert!(parse_key_patterns("X:R").is_err());
        assert!(parse_key_patterns("Z:Z").is_err(), "zipf is not supported");
        let parsed = args(&["--key-pattern=P:P"]).expect("memtier's = form");
        assert_eq!(parsed.key_pattern.set, KeyPattern::Parallel);
    }

    #[test]
    fn percentiles() {
        assert_eq!(
            parse_percentiles("50,99,99.9"),
            Ok(Percentiles(vec![50.0, 99.0, 99.9]))
        );
        assert_eq!(parse_percentiles(" 99.99 "), Ok(Percentiles(vec![99.99])));
        assert!(parse_percentiles("0").is_err());
        assert!(parse_percentiles("101").is_err());
        assert!(parse_percentiles("50,,99").is_err());
        assert!(parse_percentiles("p99").is_err());
    }

    #[test]
    fn limits_and_commands() {
        let plan = args(&["--test-time", "5"])
            .expect("parse")
            .plan()
            .expect("plan");
        assert_eq!(plan.limit, Limit::Duration(Duration::from_secs(5)));
        assert!(args(&["--test-time", "5", "-n", "10"]).is_err());
        let plan = args(&[
            "--command",
            "SET __key__ __data__",
            "--command",
            "set x 1",
            "--command-ratio",
            "3",
            "--command-key-pattern",
            "S",
        ])
        .expect("parse")
        .plan()
        .expect("plan");
        let labels: Vec<&str> = plan.commands.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["SET", "SET #2"]);
        assert_eq!((plan.commands[0].ratio, plan.commands[1].ratio), (3, 1));
        assert_eq!(plan.commands[0].pattern, KeyPattern::Sequential);
        assert!(args(&["--threads", "0"]).expect("parse").plan().is_err());
        assert!(args(&["--key-minimum", "5", "--key-maximum", "4"])
            .expect("parse")
            .plan()
            .is_err());
    }

    #[test]
    fn authentication() {
        let plan = args(&["-a", "secret"])
            .expect("parse")
            .plan()
            .expect("plan");
        let credentials = plan.credentials.expect("credentials");
        assert_eq!(
            (credentials.user, credentials.password.as_str()),
            (None, "secret")
        );
        let plan = args(&["-a", "bob:pw"])
            .expect("parse")
            .plan()
            .expect("plan");
        let credentials = plan.credentials.expect("credentials");
        assert_eq!(credentials.user.as_deref(), Some("bob"));
    }
}
