//! The store: an embedded SQLite database of load snapshots (SPEC section 6,
//! step 6).
//!
//! Each user version is one row valid from the snapshot that wrote it until
//! the snapshot that replaced or removed it, so a load writes only what
//! changed and every kept snapshot stays readable. A load is one
//! transaction: readers (WAL mode) see the previous load until it commits,
//! and a crash leaves the previous snapshot intact. Synchronous code: async
//! callers run it in `spawn_blocking`. Knows nothing of the record's shape.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

/// Versioned migrations; `PRAGMA user_version` counts those applied.
/// Append only: a released migration never changes.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    loaded_at TEXT NOT NULL,
    users INTEGER NOT NULL,
    added INTEGER NOT NULL,
    removed INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    unchanged INTEGER NOT NULL
);
CREATE TABLE user_versions (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_to INTEGER,
    hash INTEGER NOT NULL,
    record TEXT NOT NULL,
    provenance TEXT NOT NULL
);
-- Covers the next load's comparison (key, row, hash) without reading records.
CREATE INDEX user_versions_current ON user_versions(key, hash) WHERE valid_to IS NULL;
CREATE INDEX user_versions_from ON user_versions(valid_from);
CREATE INDEX user_versions_to ON user_versions(valid_to) WHERE valid_to IS NOT NULL;
"#,
    r#"
-- The daemon's runs, for the status page's trend: the record is the
-- daemon's JSON, the store keeps it as text.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    finished_at TEXT NOT NULL,
    record TEXT NOT NULL
);
"#,
];

/// Runs kept at most, however many snapshots are kept: a trend of weeks at
/// a run every quarter of an hour.
const MAX_RUNS: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("store {path}: cannot create it: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("store {path} does not exist yet; run `itsmid load` first")]
    Missing { path: PathBuf },
    #[error(
        "store {path} has schema version {found}, newer than this itsmid knows ({known}); upgrade itsmid"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("snapshot {id} is not in the store (kept: {kept}); see `itsmid history`")]
    NoSnapshot { id: i64, kept: String },
}

/// One load's numbered snapshot and its counts against the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub id: i64,
    pub loaded_at: String,
    pub users: u64,
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
}

/// A user's stored version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub key: String,
    pub record: String,
    pub provenance: String,
}

/// Users that differ between two snapshots: `(key, old record, new record)`.
pub type RawDiff = Vec<(String, Option<String>, Option<String>)>;

pub struct Store {
    path: PathBuf,
    conn: Connection,
}

impl Store {
    /// Opens the store, creating and migrating it on first use. A new
    /// store is created readable by its owner only before SQLite opens it;
    /// SQLite gives its `-wal` and `-shm` files the database's mode.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        crate::private_file::ensure_exists(path).map_err(|source| StoreError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(path).map_err(|e| sqlite(path, e))?;
        let mut store = Store {
            path: path.to_path_buf(),
            conn,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// An empty store in memory: what a dry run compares with when no load
    /// has created the store yet, so that a dry run creates no file.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| sqlite(&path, e))?;
        let mut store = Store { path, conn };
        store.migrate()?;
        Ok(store)
    }

    /// Opens a store that a load has created; never creates one.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        Store::open(path)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        sqlite(&self.path, source)
    }

    fn configure(&self) -> Result<(), StoreError> {
        self.conn
            .busy_timeout(std::time::Duration::from_secs(30))
            .map_err(|e| self.err(e))?;
        // WAL: readers keep seeing the last committed load while a load runs.
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| {
                row.get::<_, String>(0)
            })
            .map_err(|e| self.err(e))?;
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536;")
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        // Read first, without a lock: a reader must never wait for a load
        // in progress, and an up-to-date store needs no write.
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| sqlite(&path, e))?;
        if version == MIGRATIONS.len() as i64 {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite(&path, e))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| sqlite(&path, e))?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew {
                path,
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(migration).map_err(|e| sqlite(&path, e))?;
            tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(|e| sqlite(&path, e))?;
        }
        tx.commit().map_err(|e| sqlite(&path, e))
    }

    pub fn last_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        last_snapshot(&self.conn).map_err(|e| self.err(e))
    }

    /// Remembers one daemon run. Runs go with the snapshots: one that
    /// finished before the oldest kept snapshot is dropped, and never more
    /// than [`MAX_RUNS`] are kept.
    pub fn record_run(&mut self, finished_at: &str, record: &str) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite(&path, e))?;
        tx.execute(
            "INSERT INTO runs (finished_at, record) VALUES (?1, ?2)",
            params![finished_at, record],
        )
        .map_err(|e| sqlite(&path, e))?;
        tx.execute(
            "DELETE FROM runs WHERE finished_at < (SELECT MIN(loaded_at) FROM snapshots)",
            [],
        )
        .map_err(|e| sqlite(&path, e))?;
        tx.execute(
            "DELETE FROM runs WHERE id <= (SELECT MAX(id) FROM runs) - ?1",
            [MAX_RUNS],
        )
        .map_err(|e| sqlite(&path, e))?;
        tx.commit().map_err(|e| sqlite(&path, e))
    }

    /// The last `limit` runs' records, oldest first.
    pub fn runs(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT record FROM (SELECT id, record FROM runs ORDER BY id DESC LIMIT ?1) ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([limit as i64], |row| row.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<String>, _>>()
            .map_err(|e| self.err(e))
    }

    /// Every kept snapshot, oldest first.
    pub fn history(&self) -> Result<Vec<Snapshot>, StoreError> {
        all_snapshots(&self.conn).map_err(|e| self.err(e))
    }

    /// Hands every user of the last load to `each`, in key order.
    pub fn for_each_current(
        &self,
        each: &mut dyn FnMut(&str) -> std::io::Result<()>,
    ) -> Result<std::io::Result<u64>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT record FROM user_versions WHERE valid_to IS NULL ORDER BY key")
            .map_err(|e| self.err(e))?;
        let mut rows = statement.query([]).map_err(|e| self.err(e))?;
        let mut count = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let record = row.get_ref(0).map_err(|e| self.err(e))?;
            let text = record.as_str().map_err(|e| self.err(e.into()))?;
            if let Err(err) = each(text) {
                return Ok(Err(err));
            }
            count += 1;
        }
        Ok(Ok(count))
    }

    /// The last load's version of one user.
    pub fn current_user(&self, key: &str) -> Result<Option<StoredUser>, StoreError> {
        self.conn
            .query_row(
                "SELECT key, record, provenance FROM user_versions WHERE key = ?1 AND valid_to IS NULL",
                [key],
                |row| {
                    Ok(StoredUser {
                        key: row.get(0)?,
                        record: row.get(1)?,
                        provenance: row.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The users that differ between snapshots `from` and `to`.
    pub fn diff(&self, from: i64, to: i64) -> Result<RawDiff, StoreError> {
        for id in [from, to] {
            let kept: Option<i64> = self
                .conn
                .query_row("SELECT id FROM snapshots WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            if kept.is_none() {
                let ids: Vec<String> = self.history()?.iter().map(|s| s.id.to_string()).collect();
                return Err(StoreError::NoSnapshot {
                    id,
                    kept: if ids.is_empty() {
                        "none".into()
                    } else {
                        ids.join(", ")
                    },
                });
            }
        }
        if from == to {
            return Ok(Vec::new());
        }
        let (low, high) = (from.min(to), from.max(to));
        let mut sides: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
        // Alive at `low`, gone or replaced by `high`.
        let mut older = self
            .conn
            .prepare(
                "SELECT key, record FROM user_versions
                 WHERE valid_to > ?1 AND valid_to <= ?2 AND valid_from <= ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = older
            .query_map(params![low, high], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (key, record) = row.map_err(|e| self.err(e))?;
            sides.entry(key).or_default().0 = Some(record);
        }
        // Written after `low` and still alive at `high`.
        let mut newer = self
            .conn
            .prepare(
                "SELECT key, record FROM user_versions
                 WHERE valid_from > ?1 AND valid_from <= ?2 AND (valid_to IS NULL OR valid_to > ?2)",
            )
            .map_err(|e| self.err(e))?;
        let rows = newer
            .query_map(params![low, high], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (key, record) = row.map_err(|e| self.err(e))?;
            sides.entry(key).or_default().1 = Some(record);
        }
        let mut diff: RawDiff = sides
            .into_iter()
            .filter(|(_, (old, new))| old != new)
            .map(|(key, (old, new))| {
                if from < to {
                    (key, old, new)
                } else {
                    (key, new, old)
                }
            })
            .collect();
        diff.sort();
        Ok(diff)
    }

    /// Starts a load: takes the write lock now, so two loads never
    /// interleave.
    pub fn begin(&mut self) -> Result<LoadTx<'_>, StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite(&path, e))?;
        Ok(LoadTx { path, tx })
    }
}

const SNAPSHOT_SELECT: &str =
    "SELECT id, loaded_at, users, added, removed, changed, unchanged FROM snapshots";

fn snapshot_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Snapshot> {
    Ok(Snapshot {
        id: row.get(0)?,
        loaded_at: row.get(1)?,
        users: row.get::<_, i64>(2)?.max(0) as u64,
        added: row.get::<_, i64>(3)?.max(0) as u64,
        removed: row.get::<_, i64>(4)?.max(0) as u64,
        changed: row.get::<_, i64>(5)?.max(0) as u64,
        unchanged: row.get::<_, i64>(6)?.max(0) as u64,
    })
}

fn all_snapshots(conn: &Connection) -> rusqlite::Result<Vec<Snapshot>> {
    let mut statement = conn.prepare(&format!("{SNAPSHOT_SELECT} ORDER BY id"))?;
    let rows = statement.query_map([], snapshot_row)?;
    rows.collect()
}

fn last_snapshot(conn: &Connection) -> rusqlite::Result<Option<Snapshot>> {
    conn.query_row(
        &format!("{SNAPSHOT_SELECT} ORDER BY id DESC LIMIT 1"),
        [],
        snapshot_row,
    )
    .optional()
}

fn sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

/// A load in progress. Dropped without [`LoadTx::commit`], it writes nothing.
pub struct LoadTx<'c> {
    path: PathBuf,
    tx: rusqlite::Transaction<'c>,
}

/// Writes one new user version: `(key, hash, record, provenance)`.
pub type PutRow<'a> = dyn FnMut(&str, u64, &str, &str) -> Result<(), StoreError> + 'a;

/// A user of the last load, as the next load compares it.
#[derive(Debug, Clone, Copy)]
pub struct Current {
    pub row: i64,
    pub hash: u64,
}

impl LoadTx<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        sqlite(&self.path, source)
    }

    pub fn last_snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        last_snapshot(&self.tx).map_err(|e| self.err(e))
    }

    /// Every user of the last load with its content hash, in key order
    /// (byte order, as Rust orders `str`), streamed from the covering index
    /// so no record is read and nothing is held in memory.
    pub fn for_each_current(
        &self,
        each: &mut dyn FnMut(&str, Current) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.each_version(
            "SELECT key, id, hash FROM user_versions INDEXED BY user_versions_current
             WHERE valid_to IS NULL ORDER BY key",
            None,
            each,
        )
    }

    /// Every kept snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, StoreError> {
        all_snapshots(&self.tx).map_err(|e| self.err(e))
    }

    /// Every user of snapshot `id` with its row and content hash, in key
    /// order: the versions valid from it or before and not ended by it.
    pub fn for_each_in_snapshot(
        &self,
        id: i64,
        each: &mut dyn FnMut(&str, Current) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.each_version(
            "SELECT key, id, hash FROM user_versions
             WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1) ORDER BY key",
            Some(id),
            each,
        )
    }

    /// Streams `(key, id, hash)` rows of `sql` (with `?1` bound to `snapshot`
    /// where given) to `each`, holding no row longer than the call.
    fn each_version(
        &self,
        sql: &str,
        snapshot: Option<i64>,
        each: &mut dyn FnMut(&str, Current) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut statement = self.tx.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = match snapshot {
            Some(id) => statement.query([id]),
            None => statement.query([]),
        }
        .map_err(|e| self.err(e))?;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let key = row
                .get_ref(0)
                .and_then(|v| v.as_str().map_err(Into::into))
                .map_err(|e| self.err(e))?;
            let row_id: i64 = row.get(1).map_err(|e| self.err(e))?;
            let hash: i64 = row.get(2).map_err(|e| self.err(e))?;
            each(
                key,
                Current {
                    row: row_id,
                    hash: hash as u64,
                },
            )?;
        }
        Ok(())
    }

    /// The stored record of a row.
    pub fn record(&self, row: i64) -> Result<String, StoreError> {
        self.tx
            .prepare_cached("SELECT record FROM user_versions WHERE id = ?1")
            .and_then(|mut s| s.query_row([row], |r| r.get(0)))
            .map_err(|e| self.err(e))
    }

    /// Writes the snapshot's rows: `closed` rows end at the new snapshot,
    /// `rows` gives each new version `(key, hash, record, provenance)`.
    /// `after_row` runs after each written row (a test hook uses it).
    pub fn write(
        &self,
        loaded_at: &str,
        closed: &[i64],
        rows: &mut dyn FnMut(&mut PutRow<'_>) -> Result<(), StoreError>,
        after_row: &mut dyn FnMut(u64),
    ) -> Result<i64, StoreError> {
        let snapshot: i64 = self
            .tx
            .query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM snapshots", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        self.tx
            .execute(
                "INSERT INTO snapshots (id, loaded_at, users, added, removed, changed, unchanged)
                 VALUES (?1, ?2, 0, 0, 0, 0, 0)",
                params![snapshot, loaded_at],
            )
            .map_err(|e| self.err(e))?;
        {
            let mut close = self
                .tx
                .prepare("UPDATE user_versions SET valid_to = ?1 WHERE id = ?2")
                .map_err(|e| self.err(e))?;
            for row in closed {
                close
                    .execute(params![snapshot, row])
                    .map_err(|e| self.err(e))?;
            }
        }
        let mut insert = self
            .tx
            .prepare(
                "INSERT INTO user_versions (key, valid_from, valid_to, hash, record, provenance)
                 VALUES (?1, ?2, NULL, ?3, ?4, ?5)",
            )
            .map_err(|e| self.err(e))?;
        let mut written = 0u64;
        let path = self.path.clone();
        rows(&mut |key, hash, record, provenance| {
            insert
                .execute(params![key, snapshot, hash as i64, record, provenance])
                .map_err(|e| sqlite(&path, e))?;
            written += 1;
            after_row(written);
            Ok(())
        })?;
        Ok(snapshot)
    }

    /// Sets the snapshot's counts, drops what only older snapshots than
    /// the last `keep` (and than `protect`, when older) needed, and commits.
    pub fn commit(
        self,
        snapshot: i64,
        counts: [u64; 5],
        keep: u32,
        protect: Option<i64>,
    ) -> Result<(), StoreError> {
        let [users, added, removed, changed, unchanged] = counts.map(|c| c as i64);
        self.tx
            .execute(
                "UPDATE snapshots SET users = ?2, added = ?3, removed = ?4, changed = ?5, unchanged = ?6
                 WHERE id = ?1",
                params![snapshot, users, added, removed, changed, unchanged],
            )
            .map_err(|e| self.err(e))?;
        let oldest_kept = (snapshot - i64::from(keep) + 1).min(protect.unwrap_or(i64::MAX));
        if oldest_kept > 1 {
            self.tx
                .execute(
                    "DELETE FROM user_versions WHERE valid_to IS NOT NULL AND valid_to <= ?1",
                    [oldest_kept],
                )
                .map_err(|e| self.err(e))?;
            self.tx
                .execute("DELETE FROM snapshots WHERE id < ?1", [oldest_kept])
                .map_err(|e| self.err(e))?;
        }
        let path = self.path.clone();
        self.tx.commit().map_err(|e| sqlite(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(store: &mut Store, users: &[(&str, &str)]) -> i64 {
        let tx = store.begin().expect("begin");
        let mut current = HashMap::new();
        tx.for_each_current(&mut |key, c| {
            current.insert(key.to_owned(), c);
            Ok(())
        })
        .expect("current");
        let mut closed = Vec::new();
        let mut new = Vec::new();
        for (key, record) in users {
            let hash = record.len() as u64 + record.bytes().map(u64::from).sum::<u64>();
            match current.get(*key) {
                Some(c) if c.hash == hash => {}
                Some(c) => {
                    closed.push(c.row);
                    new.push((*key, hash, *record));
                }
                None => new.push((*key, hash, *record)),
            }
        }
        for (key, c) in &current {
            if !users.iter().any(|(k, _)| *k == &**key) {
                closed.push(c.row);
            }
        }
        let snapshot = tx
            .write(
                "now",
                &closed,
                &mut |put| {
                    for (key, hash, record) in &new {
                        put(key, *hash, record, "\"s\"")?;
                    }
                    Ok(())
                },
                &mut |_| {},
            )
            .expect("write");
        tx.commit(snapshot, [users.len() as u64, 0, 0, 0, 0], 2, None)
            .expect("commit");
        snapshot
    }

    #[test]
    fn a_new_store_is_migrated_to_the_latest_version_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.db");
        drop(Store::open(&path).expect("created"));
        let store = Store::open(&path).expect("reopened");
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert!(matches!(
            Store::open_existing(&dir.path().join("none.db")),
            Err(StoreError::Missing { .. })
        ));
    }

    #[test]
    fn runs_are_kept_newest_last_and_go_with_the_snapshots() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("created");
        store
            .record_run("2026-01-01T00:00:00Z", "{\"n\":1}")
            .expect("run");
        store
            .record_run("2026-01-02T00:00:00Z", "{\"n\":2}")
            .expect("run");
        assert_eq!(store.runs(10).expect("runs"), ["{\"n\":1}", "{\"n\":2}"]);
        assert_eq!(store.runs(1).expect("runs"), ["{\"n\":2}"]);
        // A kept snapshot from the second day drops the first day's run.
        load(&mut store, &[("a", "{}")]);
        store
            .conn
            .execute(
                "UPDATE snapshots SET loaded_at = '2026-01-02T00:00:00Z'",
                [],
            )
            .expect("dated");
        store
            .record_run("2026-01-03T00:00:00Z", "{\"n\":3}")
            .expect("run");
        assert_eq!(store.runs(10).expect("runs"), ["{\"n\":2}", "{\"n\":3}"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_new_store_and_its_write_ahead_log_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| {
            std::fs::metadata(path)
                .expect("metadata")
                .permissions()
                .mode()
                & 0o777
        };
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).expect("created");
        load(&mut store, &[("a", "{\"a\":1}")]);
        assert_eq!(mode(&path), 0o600);
        let wal = dir.path().join("s.db-wal");
        assert!(wal.exists(), "WAL mode keeps a log while the store is open");
        assert_eq!(mode(&wal), 0o600);
    }

    #[test]
    fn readers_see_the_previous_load_until_the_next_one_commits() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).expect("store");
        load(&mut store, &[("a", "{\"a\":1}")]);
        let tx = store.begin().expect("a load starts");
        tx.write(
            "later",
            &[],
            &mut |put| put("b", 1, "{\"b\":1}", "\"s\""),
            &mut |_| {},
        )
        .expect("rows written, not committed");
        let reader = Store::open_existing(&path).expect("a reader opens during the load");
        let mut seen = Vec::new();
        reader
            .for_each_current(&mut |record| {
                seen.push(record.to_owned());
                Ok(())
            })
            .expect("read")
            .expect("collect");
        assert_eq!(seen, vec!["{\"a\":1}"]);
        assert_eq!(reader.history().expect("history").len(), 1);
        drop(tx);
        assert_eq!(reader.history().expect("history").len(), 1, "rolled back");
    }

    #[test]
    fn snapshots_are_numbered_diffed_and_pruned_to_the_kept_number() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("store");
        assert_eq!(
            load(&mut store, &[("a", "{\"a\":1}"), ("b", "{\"b\":1}")]),
            1
        );
        assert_eq!(
            load(&mut store, &[("a", "{\"a\":2}"), ("c", "{\"c\":1}")]),
            2
        );
        let diff = store.diff(1, 2).expect("diff");
        assert_eq!(
            diff,
            vec![
                (
                    "a".into(),
                    Some("{\"a\":1}".into()),
                    Some("{\"a\":2}".into())
                ),
                ("b".into(), Some("{\"b\":1}".into()), None),
                ("c".into(), None, Some("{\"c\":1}".into())),
            ]
        );
        assert_eq!(
            store.diff(2, 1).expect("diff")[1],
            ("b".into(), None, Some("{\"b\":1}".into()))
        );
        assert_eq!(load(&mut store, &[("a", "{\"a\":2}")]), 3);
        let ids: Vec<i64> = store
            .history()
            .expect("history")
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, vec![2, 3], "two snapshots kept");
        assert!(matches!(
            store.diff(1, 3),
            Err(StoreError::NoSnapshot { id: 1, .. })
        ));
        assert_eq!(store.diff(2, 3).expect("diff").len(), 1, "c removed");
    }
}
