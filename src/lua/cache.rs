//! The node-wide script cache: sha1 -> body. Every core compiles a script
//! on first use; SCRIPT FLUSH bumps an epoch that makes them all forget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct ScriptCache {
    bodies: Mutex<HashMap<String, Arc<[u8]>>>,
    epoch: AtomicU64,
}

/// Lower-case hex SHA1, as Redis names scripts.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

impl ScriptCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<[u8]>>> {
        self.bodies.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn insert(&self, sha: &str, body: &[u8]) {
        let mut bodies = self.lock();
        if !bodies.contains_key(sha) {
            bodies.insert(sha.to_string(), Arc::from(body));
        }
    }

    pub fn get(&self, sha: &str) -> Option<Arc<[u8]>> {
        self.lock().get(sha).cloned()
    }

    pub fn contains(&self, sha: &str) -> bool {
        self.lock().contains_key(sha)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn flush(&self) {
        let mut bodies = self.lock();
        // Not `clear`: the table's capacity would stay allocated.
        *bodies = HashMap::new();
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Changes whenever the cache is flushed.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}
