//! Lua scripting: one Luau VM per core, Redis's `redis` API and libraries,
//! the node-wide script cache, and the EVAL family.

mod api;
pub mod cache;
mod convert;
pub mod engine;
pub mod functions;
pub mod interrupt;
pub mod libs;
mod rdb;
pub mod run;

pub use cache::ScriptCache;
pub use engine::Engine;

/// How a core's VM reaches the core that owns it (set once the core
/// exists; the VM is built first).
pub type CoreLink = std::rc::Rc<std::cell::RefCell<std::rc::Weak<crate::node::Core>>>;
