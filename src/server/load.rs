//! Loading `dir`/`dbfilename` at start-up, before a core serves: each core
//! reads the file and keeps the keys of its own slots (so a file loads at
//! any shard count), and shard 0 loads the function libraries into the
//! node's registry. A file that does not read refuses the start, as Redis
//! refuses to start on a corrupt RDB file.

use std::path::Path;

use crate::config::Param;
use crate::lua::{functions, ScriptHost};
use crate::protocol::Reply;
use crate::shard::core::Core;

/// Loads the snapshot into `core`'s keyspace (and, on shard 0, the
/// functions); no file is an empty start.
pub fn load_snapshot(core: &Core) -> Result<(), String> {
    let config = &core.node.config;
    let path = Path::new(&config.string(Param::Dir)).join(config.string(Param::Dbfilename));
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let now_ms = crate::util::time::now_ms();
    let loaded = {
        let mut state = core.state.borrow_mut();
        crate::rdb::snapshot::load_keyspace(&data, &mut state.keyspace, now_ms)
            .map_err(|e| format!("{}: {e}", path.display()))?
    };
    if core.shard_id == 0 {
        for code in loaded.functions {
            load_library(core, code.into())
                .map_err(|e| format!("{}: a function library: {e:?}", path.display()))?;
        }
    }
    Ok(())
}

fn load_library(core: &Core, code: bytes::Bytes) -> Result<(), Reply> {
    let (name, body_at) = functions::parse_metadata(&code)?;
    let lib = functions::build(core.engine(), name, code, body_at)?;
    core.functions().load(lib, false)
}
