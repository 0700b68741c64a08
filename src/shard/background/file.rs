//! An RDB file written by a thread from chunks of records (the shards'
//! point-in-time views), so no executor waits for the disk: header,
//! chunks in order, function libraries, EOF and checksum, then synced and
//! renamed into place (`util::durable`). A file whose chunks stop coming
//! before [`RdbFile::finish`] is abandoned: the old file stays.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};

use crate::rdb::Writer;

/// Chunks queued for the writer thread: enough to keep it busy, few
/// enough that a slow disk holds the shards back instead of memory
/// filling up.
const QUEUED_CHUNKS: usize = 16;

/// Bytes the thread buffers before a write.
const WRITE_BUFFER_BYTES: usize = 1 << 20;

/// The thread's error when its chunks stop coming.
const ABANDONED: &str = "the file was abandoned";

/// What the writer thread is sent.
enum ToWriter {
    Records(Vec<u8>),
    /// Every chunk has been sent: finish the file and put it in place.
    Finish,
}

/// One file being written (see the module).
pub struct RdbFile {
    to_writer: mpsc::Sender<ToWriter>,
    written: oneshot::Receiver<std::io::Result<u64>>,
}

impl RdbFile {
    /// Starts the thread writing `path` (through a temporary file), with
    /// `functions` after the records and, with `checksum` false, zeros
    /// for the CRC64 (`rdbchecksum no`).
    /// The thread runs off the shards' cores, `shard_cores` (it would
    /// take turns with the shard that spawned it).
    pub fn start(
        path: PathBuf,
        functions: Vec<Bytes>,
        checksum: bool,
        shard_cores: Vec<usize>,
    ) -> std::io::Result<RdbFile> {
        let (to_writer, mut chunks) = mpsc::channel(QUEUED_CHUNKS);
        let (done, written) = oneshot::channel();
        std::thread::Builder::new()
            .name("shardis-rdb".into())
            .spawn(move || {
                if let Err(e) = crate::util::affinity::move_off(&shard_cores) {
                    eprintln!("the RDB writer stays on its shard's core: {e}");
                }
                let mut size = 0;
                let result = crate::util::durable::replace_file(&path, |file| {
                    let out = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
                    let mut writer = Writer::new(out);
                    if !checksum {
                        writer = writer.without_checksum();
                    }
                    writer.begin(0)?;
                    loop {
                        let next = futures_lite::future::block_on(futures_lite::StreamExt::next(
                            &mut chunks,
                        ));
                        match next {
                            Some(ToWriter::Records(chunk)) => {
                                size += chunk.len() as u64;
                                writer.records(&chunk)?;
                            }
                            Some(ToWriter::Finish) => break,
                            None => return Err(std::io::Error::other(ABANDONED)),
                        }
                    }
                    for code in &functions {
                        writer.function(code)?;
                    }
                    writer.finish()?.flush()
                });
                let _ = done.send(result.map(|()| size));
            })?;
        Ok(RdbFile { to_writer, written })
    }

    /// Queues a chunk of records, waiting while the queue is full.
    pub async fn send(&mut self, chunk: Vec<u8>) -> std::io::Result<()> {
        self.send_message(ToWriter::Records(chunk)).await
    }

    /// Ends the file and waits until it is in place; the bytes of records
    /// it holds.
    pub async fn finish(mut self) -> std::io::Result<u64> {
        let sent = self.send_message(ToWriter::Finish).await;
        // The thread's own error, if it stopped, says more than the send's.
        let written = self.wait().await;
        match (sent, written) {
            (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
            (Ok(()), Ok(size)) => Ok(size),
        }
    }

    /// Gives the file up after `why` (the old file stays); the thread's
    /// own error if it had one (the real cause of a failed send), else
    /// `why`.
    pub async fn abandon(self, why: std::io::Error) -> std::io::Error {
        match self.wait().await {
            Err(e) if !e.to_string().contains(ABANDONED) => e,
            _ => why,
        }
    }

    async fn wait(self) -> std::io::Result<u64> {
        let RdbFile { to_writer, written } = self;
        drop(to_writer);
        written
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the writer thread stopped")))
    }

    async fn send_message(&mut self, message: ToWriter) -> std::io::Result<()> {
        let to = &mut self.to_writer;
        let gone = |_| std::io::Error::other("the writer thread stopped");
        futures_lite::future::poll_fn(|cx| to.poll_ready(cx))
            .await
            .map_err(gone)?;
        to.start_send(message).map_err(gone)
    }
}
