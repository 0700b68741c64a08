//! The layers of `src/`, and the check that keeps them pointing down.
//!
//! From the bottom: `util` → `config` → `protocol` → `store` (the keyspace
//! data) → `rdb` (the RDB file format: store values to bytes and back) →
//! `notify` (each shard's queue of keyspace events) → `lua` (the VMs;
//! they reach a shard only through `lua::ScriptHost`) → `replication`
//! (the role, ids and offsets every core reads; the stream's backlog) →
//! `node` (what every core shares) → `pubsub` (a
//! core's Pub/Sub hub, subscribers' inboxes) → `cmd` (the
//! command table and every command's code; connection commands reach
//! their core only through `cmd::CoreAccess`) → `aof` (the append-only
//! log's files: records, writer, manifest, recovery) → `shard` (what a core owns:
//! keyspace state, write hook, gate, mesh, the one entry into the shard,
//! serving) → `server` (listening, connections, routing, start-up).
//! `alloc` (the allocator) is used from anywhere; `loadgen` and
//! `scenario` are the load generator's, on top of `protocol`.
//!
//! The test below reads every `crate::<module>` path in `src/` and fails
//! when two top-level modules import each other, directly or through
//! others.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Top-level module -> the top-level modules its files name.
    fn imports() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("a directory entry").path();
                if path.ends_with("vendor") || path.ends_with("bin") {
                    continue;
                }
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        let module_of = |path: &Path| -> Option<String> {
            let first = path.strip_prefix(&src).ok()?.components().next()?;
            let name = first.as_os_str().to_str()?.trim_end_matches(".rs");
            (!matches!(name, "lib" | "main")).then(|| name.to_string())
        };
        let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let Some(from) = module_of(file) else {
                continue;
            };
            let text = std::fs::read_to_string(file).expect("read a source file");
            // Code only: a comment may name any module.
            for line in text.lines().map(|l| l.split("//").next().unwrap_or("")) {
                for (i, _) in line.match_indices("crate::") {
                    let name: String = line[i + "crate::".len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name != from && modules.contains(&name) {
                        graph.entry(from.clone()).or_default().insert(name);
                    }
                }
            }
        }
        graph
    }

    /// Modules on some circle through `start`: those it reaches that reach
    /// it back.
    fn circle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
        let reach = |from: &str| {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.to_string()];
            while let Some(m) = todo.pop() {
                for next in graph.get(&m).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        todo.push(next.clone());
                    }
                }
            }
            seen
        };
        reach(start)
            .into_iter()
            .filter(|m| m == start || reach(m).contains(start))
            .collect()
    }

    #[test]
    fn no_import_circle_between_modules() {
        let graph = imports();
        assert!(graph.contains_key("server"), "the scan found the modules");
        for module in graph.keys() {
            let circle = circle_through(&graph, module);
            assert!(
                circle.is_empty(),
                "module {module} is on an import circle with {circle:?}: layers must only \
                 point down (see src/layers.rs)"
            );
        }
    }
}
