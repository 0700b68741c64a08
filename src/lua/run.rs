//! Running a script or a library function on its core: in a coroutine of
//! the core's VM, in the core's low-priority script task queue, so the
//! interrupt can suspend it and the core keeps serving other shards; with
//! the shard's [`ScriptStatus`](super::status::ScriptStatus)
//! kept up to date for BUSY, kills and INFO.

use std::rc::Rc;

use bytes::Bytes;
use mlua::{Function, Value};

use super::arguments::Arguments;
use super::engine::RunState;
use super::interrupt::{self, Preemptible};
use super::status::{kill_error, Kind};
use super::ScriptHost;
use crate::protocol::Reply;

/// One script run.
pub struct Job<'a> {
    pub kind: Kind,
    /// The script's sha1 or the function's name (errors, INFO).
    pub name: &'a str,
    /// The compiled script, or the library function.
    pub function: Function,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    pub state: RunState,
}

/// Clears the interrupt's watch even if the task is dropped mid-run.
struct Watching;

impl Drop for Watching {
    fn drop(&mut self) {
        interrupt::end();
    }
}

/// Runs `job` on this core. The caller holds the shard's gate and runs
/// this in the core's script task queue (see `Core::execute_when_free`).
pub async fn run(core: Rc<dyn ScriptHost>, job: Job<'_>) -> Reply {
    let engine = core.engine();
    let source = match job.kind {
        Kind::Eval => "@user_script",
        Kind::Function => "@user_function",
    };
    engine.run.set(job.state);
    let arguments = Arguments {
        keys: job.keys,
        args: job.args,
    };
    let (thread, running) = match start(core.as_ref(), &job, &arguments) {
        Ok(started) => started,
        Err(e) => {
            let reply = engine.reply_of(Err(e), job.name, source);
            engine.run.set(RunState::default());
            return reply;
        }
    };
    let status = core.status();
    // The caller's clock reading (its batch's): one fewer per script.
    status.begin(job.kind, job.name, job.state.now_ms);
    let result = {
        let _watching = Watching;
        interrupt::begin_script(core.clone(), thread.state());
        let result = Preemptible::new(running).await;
        // Only a thread whose script ended is reused (a run dropped
        // mid-script leaves its thread to the collector).
        engine.keep_script_thread(thread);
        result
    };
    let reply = match status.end() {
        Some(reason) => {
            let line = match &result {
                Ok(values) => super::engine::error_line(values),
                Err(_) => 0,
            };
            Reply::error(format!(
                "{} script: {}, on {source}:{line}.",
                kill_error(reason),
                job.name
            ))
        }
        None => engine.reply_of(result, job.name, source),
    };
    engine.run.set(RunState::default());
    reply
}

/// The coroutine the run uses (kept for the next run), started: the
/// runner gets the script or the function and the run's `arguments`,
/// which it turns into KEYS and ARGV or the function's two arrays as it
/// begins. `arguments` must stay in place until the run ends (the run's
/// future owns it).
fn start(
    core: &dyn ScriptHost,
    job: &Job,
    arguments: &Arguments,
) -> mlua::Result<(mlua::Thread, Running)> {
    let thread = core.engine().script_thread()?;
    let arguments = arguments.as_light_userdata();
    let running = match job.kind {
        Kind::Eval => thread.clone().into_async((&job.function, arguments))?,
        Kind::Function => thread
            .clone()
            .into_async((&job.function, arguments, true))?,
    };
    Ok((thread, running))
}

/// A running script: the runner's results (`ok, result_or_error`; a
/// script's further return values are dropped, as Redis drops them).
type Running = mlua::thread::AsyncThread<(Value, Value)>;
