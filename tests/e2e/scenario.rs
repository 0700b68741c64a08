//! `shardis-bench scenario blocking-script` end to end, against a real
//! shardis and a real redis-server: the scenario sees what it should (BUSY
//! only on the script's shard for shardis, everywhere for Redis), times
//! SCRIPT KILL and SHUTDOWN NOSAVE, and writes its JSON and SVG.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::Server;

#[test]
fn blocking_script_scenario_against_shardis_and_redis() {
    let mut ours = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let mut theirs = Server::redis(&["--lua-time-limit", "50"]);
    let dir = std::env::temp_dir().join(format!("shardis-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let json = dir.join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_shardis-bench"))
        .args(["scenario", "blocking-script"])
        .args(["--target", &format!("127.0.0.1:{}", ours.port)])
        .args(["--target", &format!("127.0.0.1:{}", theirs.port)])
        .args(["--connections", "4", "--rate", "200", "--keys", "40"])
        .args([
            "--warmup-ms",
            "300",
            "--script-ms",
            "400",
            "--after-ms",
            "300",
        ])
        .arg("--check-shutdown")
        .args(["--json-out-file", json.to_str().expect("utf-8 path")])
        .output()
        .expect("run shardis-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "shardis-bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&json).expect("the JSON file");
    let svg = std::fs::read_to_string(dir.join("run.svg")).expect("the SVG file");
    assert!(svg.starts_with("<svg") && svg.contains("<path"), "{svg}");

    // Each target's figures, in the order given.
    let targets: Vec<&str> = report.split("{\"name\":").skip(1).collect();
    assert_eq!(targets.len(), 2, "{report}");
    let busy = |target: &str, period: &str, group: &str| -> u64 {
        let section = target.split(period).nth(1).expect("period");
        let group = section.split(group).nth(1).expect("group");
        let n = group.split("\"busy\":").nth(1).expect("busy field");
        n.split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .expect("a count")
    };
    let (shardis, redis) = (targets[0], targets[1]);
    assert!(shardis.starts_with("\"shardis/2@"), "{shardis}");
    assert!(redis.starts_with("\"redis-7"), "{redis}");
    // shardis: BUSY for the script's shard only; Redis: for everything.
    assert_eq!(busy(shardis, "\"during_script\"", "\"other_shards\""), 0);
    assert!(busy(shardis, "\"during_script\"", "\"script_shard\"") > 0);
    assert!(busy(redis, "\"during_script\"", "\"other_shards\"") > 0);
    assert!(busy(redis, "\"during_script\"", "\"script_shard\"") > 0);
    for t in [shardis, redis] {
        assert!(t.contains("\"script\":{\"start_ms\":"), "{t}");
        assert!(t.contains("\"reply\":\":1\"}"), "the script finished: {t}");
        let kill = t.split("\"script_kill\":").nth(1).expect("kill check");
        assert!(kill.starts_with("{\"reply\":\"+OK\""), "{kill}");
        assert!(
            kill.contains("Script killed by user with SCRIPT KILL"),
            "{kill}"
        );
        assert!(t.contains("\"timeline\":[{\"start_ms\":0,"), "{t}");
    }
    // SHUTDOWN NOSAVE stopped both servers.
    for server in [&mut ours, &mut theirs] {
        assert!(
            server.wait_exit(Duration::from_secs(10)).is_some(),
            "SHUTDOWN NOSAVE stopped the server"
        );
    }
    assert!(stdout.contains("reproduce: "), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
