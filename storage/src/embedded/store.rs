//! [`EmbeddedStore`]: opening the database, and the [`Storage`] calls on top of the writer
//! thread (writes) and the blocking pool (reads).

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableTable};
use tokio::sync::{mpsc, oneshot, watch};

use super::blocking::run_blocking;
use super::database_slot::DatabaseSlot;
use super::db_error::{DATABASE_FILE, db_error};
use super::free_space::available_bytes;
use super::options::EmbeddedOptions;
use super::reads;
use super::tables::{
    Bookmarks, CHANGES, COMPACTED, CURRENT_REVISION, FORMAT, FORMAT_VERSION, KEY_VERSIONS, META,
};
use super::watch_stream::HistoryFollower;
use super::write_health::WriteHealth;
use super::write_op::{NewValue, WriteOp};
use super::writer::{WriteRequest, Writer};
use crate::{KeyValue, ListOptions, ListPage, Revision, Storage, StorageError, WatchStream};

/// The embedded backend: a redb database in a local directory. See the [module
/// docs](super) for the design.
///
/// Dropping the store stops its writer thread (waiting for the batch in flight) and closes the
/// file, after which the directory can be opened again; open watches then end with
/// `Unavailable`.
///
/// A full disk fails writes with `InsufficientStorage` while reads and watches go on; writes
/// work again once space is freed, without a restart (see `writer.rs`, "Recovery").
pub struct EmbeddedStore {
    db: Arc<DatabaseSlot>,
    requests: Option<mpsc::Sender<WriteRequest>>,
    writer: Option<JoinHandle<()>>,
    committed: watch::Receiver<Revision>,
    health: watch::Receiver<WriteHealth>,
    options: EmbeddedOptions,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.db.dir())
            .field("committed", &*self.committed.borrow())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `dir`.
    ///
    /// Fails with `Unavailable` if another process (or another store in this one) has the
    /// directory open or the disk cannot be read, and with `Corrupt` if the file is not a
    /// database this code wrote. Blocks while redb checks the file (and repairs it after a
    /// crash); call it before serving, or from `spawn_blocking`.
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<EmbeddedStore, StorageError> {
        std::fs::create_dir_all(dir).map_err(|err| StorageError::Unavailable {
            reason: format!("cannot create data directory {}: {err}", dir.display()),
        })?;
        let db = Arc::new(DatabaseSlot::open(dir, &options)?);
        let bookmarks = db.with(prepare)?;

        let (requests, queue) = mpsc::channel(options.queue_depth.max(1));
        let (published, committed) = watch::channel(bookmarks.current);
        let (health_sender, health) = watch::channel(WriteHealth::Healthy);
        let writer = Writer {
            db: db.clone(),
            requests: queue,
            published,
            health: health_sender,
            revision: bookmarks.current,
            history_revisions: options.history_revisions,
            max_batch: options.max_batch.max(1),
            max_retry_backoff: options.max_write_retry_backoff,
            resume_free_bytes: options.resume_free_bytes,
        };
        let writer = std::thread::Builder::new()
            .name("prepull-embedded-writer".to_string())
            .spawn(move || writer.run())
            .map_err(|err| StorageError::Internal(format!("cannot start writer thread: {err}")))?;
        Ok(EmbeddedStore {
            db,
            requests: Some(requests),
            writer: Some(writer),
            committed,
            health,
            options,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        self.db.dir()
    }

    /// Discards history before `revision`: afterwards lists at revisions below it, continue
    /// tokens issued below it and watches after revisions below it are `Expired`. A revision
    /// at or below the current compaction point is a no-op; one above the current revision is
    /// `RevisionTooLarge`. The writer also does this on its own to keep
    /// [`EmbeddedOptions::history_revisions`].
    pub async fn compact(&self, revision: Revision) -> Result<(), StorageError> {
        self.request(|reply| WriteRequest::Compact {
            to: revision,
            reply,
        })
        .await
    }

    /// The oldest revision still readable (the compaction point).
    pub async fn compacted_revision(&self) -> Result<Revision, StorageError> {
        Ok(self.bookmarks().await?.compacted)
    }

    /// Test hook: stores `raw` under `key` as it is, without the envelope (create or
    /// overwrite), as disk damage or a foreign writer would. Never use it for real data.
    #[doc(hidden)]
    pub async fn write_unsealed(&self, key: &str, raw: Bytes) -> Result<KeyValue, StorageError> {
        self.submit(WriteOp::Put {
            key: key.to_string(),
            value: NewValue::unsealed(raw),
        })
        .await
    }

    async fn bookmarks(&self) -> Result<Bookmarks, StorageError> {
        let db = self.db.clone();
        run_blocking(self.options.operation_timeout, move || {
            db.with(reads::bookmarks)
        })
        .await
    }

    async fn submit(&self, op: WriteOp) -> Result<KeyValue, StorageError> {
        self.request(|reply| WriteRequest::Write { op, reply })
            .await
    }

    /// Queues the request `make` builds around its reply channel and waits for the outcome,
    /// within the store's deadline.
    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StorageError>>) -> WriteRequest,
    ) -> Result<T, StorageError> {
        let requests = self.requests.as_ref().expect("writer runs until drop");
        let (reply, outcome) = oneshot::channel();
        let deadline = self.options.operation_timeout;
        let send_and_wait = async {
            requests
                .send(make(reply))
                .await
                .map_err(|_| writer_gone())?;
            outcome.await.map_err(|_| writer_gone())?
        };
        match tokio::time::timeout(deadline, send_and_wait).await {
            Ok(result) => result,
            Err(_) => Err(StorageError::Unavailable {
                reason: format!("embedded store did not commit within {deadline:?}"),
            }),
        }
    }
}

/// How long dropping the store waits for reads still running on the blocking pool.
const READS_DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish its batch and exit; joining it releases
        // its handle on the database so the file lock goes away with ours.
        self.requests.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("embedded store writer thread panicked");
        }
        // A read whose caller gave up (timeout, dropped future) may still run on the blocking
        // pool with its own handle on the database: wait for it (bounded), so the file is
        // closed when the store is gone and the next open of the directory succeeds.
        let deadline = std::time::Instant::now() + READS_DRAIN_TIMEOUT;
        while Arc::strong_count(&self.db) > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

#[async_trait]
impl Storage for EmbeddedStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StorageError> {
        StorageError::check_value_size(key, &value)?;
        self.submit(WriteOp::Create {
            key: key.to_string(),
            value: NewValue::sealed(value),
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<KeyValue, StorageError> {
        let db = self.db.clone();
        let key = key.to_string();
        run_blocking(self.options.operation_timeout, move || {
            db.with(|db| reads::get(db, &key))
        })
        .await
    }

    async fn list(&self, prefix: &str, options: &ListOptions) -> Result<ListPage, StorageError> {
        let db = self.db.clone();
        let prefix = prefix.to_string();
        let options = options.clone();
        run_blocking(self.options.operation_timeout, move || {
            db.with(|db| reads::list(db, &prefix, &options))
        })
        .await
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<KeyValue, StorageError> {
        StorageError::check_value_size(key, &value)?;
        self.submit(WriteOp::Update {
            key: key.to_string(),
            value: NewValue::sealed(value),
            expected,
        })
        .await
    }

    async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<KeyValue, StorageError> {
        self.submit(WriteOp::Delete {
            key: key.to_string(),
            expected,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StorageError> {
        let bookmarks = self.bookmarks().await?;
        if after < bookmarks.compacted {
            return Err(StorageError::Expired {
                requested: after,
                oldest: bookmarks.compacted,
            });
        }
        Ok(HistoryFollower {
            db: Arc::downgrade(&self.db),
            prefix: prefix.to_string(),
            position: after,
            committed: self.committed.clone(),
            read_batch: self.options.watch_read_batch.max(1),
            timeout: self.options.operation_timeout,
            pending: VecDeque::new(),
            finished: false,
        }
        .into_stream())
    }

    async fn current_revision(&self) -> Result<Revision, StorageError> {
        Ok(*self.committed.borrow())
    }

    /// Healthy: `Ok` at once. While writes fail: the remembered failure until the next attempt
    /// is due (see `write_health.rs`), then a probe commit through the writer, whose success
    /// ends the failure.
    async fn check_writable(&self) -> Result<(), StorageError> {
        let health = self.health.borrow().clone();
        if health == WriteHealth::Healthy {
            return Ok(());
        }
        let dir = self.db.dir();
        if let Some(failure) = health.blocking(
            Instant::now(),
            || available_bytes(dir),
            self.options.resume_free_bytes,
        ) {
            return Err(failure.to_error(dir));
        }
        self.request(|reply| WriteRequest::Probe { reply }).await
    }
}

fn writer_gone() -> StorageError {
    StorageError::Internal("embedded store writer thread stopped".to_string())
}

/// Creates the tables of a new store, checks the format of an existing one, and reads its
/// bookkeeping.
fn prepare(db: &Database) -> Result<Bookmarks, StorageError> {
    let txn = db.begin_write().map_err(db_error)?;
    let bookmarks = {
        txn.open_table(CHANGES).map_err(db_error)?;
        txn.open_table(KEY_VERSIONS).map_err(db_error)?;
        let mut meta = txn.open_table(META).map_err(db_error)?;
        let format = meta.get(FORMAT).map_err(db_error)?.map(|v| v.value());
        match format {
            None => {
                meta.insert(FORMAT, FORMAT_VERSION).map_err(db_error)?;
                meta.insert(CURRENT_REVISION, 0).map_err(db_error)?;
                meta.insert(COMPACTED, 0).map_err(db_error)?;
            }
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(StorageError::Corrupt {
                    key: DATABASE_FILE.to_string(),
                    reason: format!(
                        "data format {other} is not the supported format {FORMAT_VERSION}"
                    ),
                });
            }
        }
        Bookmarks::read(&meta)?
    };
    txn.commit().map_err(db_error)?;
    Ok(bookmarks)
}
