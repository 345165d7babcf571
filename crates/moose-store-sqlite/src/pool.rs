//! The writer connection and the pool of reader connections.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use moose_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use crate::convert::map_err;
use crate::{DATABASE_FILE, describe, migrate};

/// How long a connection waits on a lock held by another process before reporting
/// `Unavailable` (another `moose` on the same file, a backup in progress).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections kept open between uses.
const MAX_IDLE_READERS: usize = 8;

#[derive(Debug)]
pub(crate) struct Connections {
    path: PathBuf,
    /// The database file's inode at open; if the file is replaced or removed under us, writes
    /// would go to a file nobody can see, so readiness must fail.
    inode: u64,
    writer: Mutex<Option<Connection>>,
    readers: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl Connections {
    pub(crate) fn open(data_dir: &Path) -> StoreResult<Self> {
        prepare_data_dir(data_dir)?;
        let path = data_dir.join(DATABASE_FILE);
        let mut writer = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            StoreError::unavailable(
                format!("cannot open database {}", describe(&path).display()),
                e,
            )
        })?;
        configure(&writer)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(map_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Unavailable {
                message: format!(
                    "database {} cannot use WAL mode (got {mode}); is it on a network file system?",
                    describe(&path).display()
                ),
                source: None,
            });
        }
        writer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(map_err)?;
        // WAL mode has created the -wal and -shm files now: prove they are private too.
        check_files(data_dir)?;
        let version = migrate::migrate(&mut writer)?;
        let inode = std::fs::metadata(&path)
            .map_err(|e| StoreError::unavailable("cannot stat the database file", e))?
            .ino();
        tracing::debug!(path = %path.display(), schema_version = version, "opened SQLite store");
        Ok(Self {
            path,
            inode,
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn ensure_open(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable {
                message: "the store is closed".into(),
                source: None,
            });
        }
        Ok(())
    }

    /// Fails if the database file was removed or replaced since it was opened.
    pub(crate) fn check_file(&self) -> StoreResult<()> {
        self.ensure_open()?;
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.ino() == self.inode => Ok(()),
            Ok(_) => Err(StoreError::Unavailable {
                message: format!(
                    "database file {} was replaced while open",
                    self.path.display()
                ),
                source: None,
            }),
            Err(e) => Err(StoreError::unavailable(
                format!("database file {} is gone", self.path.display()),
                e,
            )),
        }
    }

    /// Runs `f` on the writer connection, on the blocking pool.
    pub(crate) async fn write<T, F>(self: &std::sync::Arc<Self>, f: F) -> StoreResult<T>
    where
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.ensure_open()?;
        let this = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut guard = this
                .writer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let conn = guard.as_mut().ok_or_else(|| StoreError::Unavailable {
                message: "the store is closed".into(),
                source: None,
            })?;
            f(conn)
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }

    /// Runs `f` on a reader connection, on the blocking pool.
    pub(crate) async fn read<T, F>(self: &std::sync::Arc<Self>, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.ensure_open()?;
        let this = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = this.take_reader()?;
            let result = f(&conn);
            this.return_reader(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        let idle = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::unavailable("cannot open a reader connection", e))?;
        configure(&conn)?;
        Ok(conn)
    }

    fn return_reader(&self, conn: Connection) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let mut idle = self
            .readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }

    /// Checkpoints the WAL into the main file and closes every connection.
    pub(crate) fn close(&self) -> StoreResult<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.readers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(conn) = writer {
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize;")
                .map_err(map_err)?;
            conn.close().map_err(|(_, e)| map_err(e))?;
        }
        Ok(())
    }
}

fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Creates the data directory (mode 0700) and proves it is writable, so that a bad directory is
/// reported in one sentence at start rather than as an obscure SQLite error at the first write.
///
/// The store holds the token signing key, so the database files must be private to the account
/// Moose runs as: the directory is created 0700 and the files 0600 whatever the umask. An
/// existing database file that others may read is refused with the command that fixes it; an
/// existing directory that others may list is only warned about (its files are still private,
/// and service managers and container volumes often make directories 0755).
fn prepare_data_dir(data_dir: &Path) -> StoreResult<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let shown = describe(data_dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(|e| {
            StoreError::unavailable(
                format!("cannot create the data directory {} ({e})", shown.display()),
                e,
            )
        })?;
    if let Some(mode) = shared_mode(data_dir)? {
        tracing::warn!(
            "the data directory {} has mode {mode:04o}: other accounts can list it; the store's \
             files are private, but make the directory private too with `chmod 700 '{}'`",
            shown.display(),
            shown.display()
        );
    }
    let probe = data_dir.join(".moose-write-probe");
    std::fs::write(&probe, b"probe").map_err(|e| {
        StoreError::unavailable(
            format!(
                "the data directory {} is not writable ({e})",
                shown.display()
            ),
            e,
        )
    })?;
    // Best effort: a leftover probe file is harmless.
    let _ = std::fs::remove_file(&probe);
    // Create the database file ourselves, 0600: SQLite gives its -wal and -shm files the
    // database file's mode.
    let db = data_dir.join(DATABASE_FILE);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&db)
        .map_err(|e| {
            StoreError::unavailable(
                format!("cannot create {} ({e})", describe(&db).display()),
                e,
            )
        })?;
    check_files(data_dir)
}

/// Refuses the database file and its -wal/-shm companions if others may read them.
fn check_files(data_dir: &Path) -> StoreResult<()> {
    let fix = format!(
        "chmod 600 '{}'/{DATABASE_FILE}*",
        describe(data_dir).display()
    );
    for suffix in ["", "-wal", "-shm"] {
        let file = data_dir.join(format!("{DATABASE_FILE}{suffix}"));
        if file.exists() {
            refuse_if_shared(&file, &fix)?;
        }
    }
    Ok(())
}

/// The permission bits of `path` if group or others have any permission on it.
fn shared_mode(path: &Path) -> StoreResult<Option<u32>> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| StoreError::unavailable(format!("cannot stat {}", path.display()), e))?
        .permissions()
        .mode();
    Ok((mode & 0o077 != 0).then_some(mode & 0o7777))
}

/// `Unavailable` naming the fix if group or others have any permission on `path`.
fn refuse_if_shared(path: &Path, fix: &str) -> StoreResult<()> {
    if let Some(mode) = shared_mode(path)? {
        return Err(StoreError::Unavailable {
            message: format!(
                "{} has mode {:04o}: other accounts on this machine can read the store, which \
                 holds the token signing key; fix it with `{fix}`, and consider every session \
                 signed out (the key may have been read)",
                describe(path).display(),
                mode
            ),
            source: None,
        });
    }
    Ok(())
}
