//! Portable archives of a Moose store.
//!
//! An archive is one text file of JSON lines, written while the store is scanned page by page
//! (memory stays flat whatever the store's size):
//!
//! 1. a header `{"format":"moose-backup","version":1,"created_at":…,"source":"sqlite"}`;
//! 2. one line per item: `{"PK","SK","GSI1PK"?,"GSI1SK"?,"timestamp","attrs":{…}}`;
//! 3. a manifest `{"manifest":{"items":n,"counts":{"System/DAY":…},"sha256":…}}` whose checksum
//!    covers every item line, newline included.
//!
//! [`verify`] reads the whole archive and checks header, checksum and counts before
//! [`restore`] writes anything; a truncated archive has no manifest and is refused, an altered
//! one fails its checksum. Restore writes in batches and records after each how far it got in a
//! state file next to the archive, so an interrupted restore resumes where it stopped (puts are
//! idempotent). Because every item keeps its keys, index keys and timestamp, an archive moves a
//! store between backends: SQLite to DynamoDB and back.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use moose_store::{BatchOp, Item, Key, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The archive format's name.
pub const FORMAT: &str = "moose-backup";
/// The newest format version this build reads and writes.
pub const VERSION: u64 = 1;
/// Items read per scan page.
const PAGE: u32 = 500;
/// Items written per batch on restore.
const BATCH: usize = 25;

/// Why a backup or restore failed. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The archive is damaged, incomplete or not an archive; nothing was written.
    #[error("{0}; nothing was written")]
    Invalid(String),
    /// The archive was written by a newer Moose.
    #[error(
        "the archive is format version {0}, newer than this Moose reads ({VERSION}); restore it with a newer moose; nothing was written"
    )]
    NewerFormat(u64),
    /// The target store already holds items.
    #[error(
        "the target store is not empty; restore only into an empty store, or pass --force to write over it"
    )]
    NotEmpty,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What an archive holds, from its manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Items.
    pub items: u64,
    /// Items per type (`<PK prefix>/<SK prefix>`).
    pub counts: BTreeMap<String, u64>,
    /// SHA-256 of the item lines, hex.
    pub sha256: String,
}

/// What a backup or restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Bytes of the archive.
    pub bytes: u64,
    /// Items skipped because an earlier, interrupted restore had written them.
    pub resumed_from: u64,
}

/// An item's type, for the manifest's counts: the key prefixes before their first `#`
/// (`System#42`/`DAY#2026-06-10` → `System/DAY`).
pub fn item_type(key: &Key) -> String {
    let head = |s: &str| s.split('#').next().unwrap_or_default().to_owned();
    format!("{}/{}", head(&key.pk), head(&key.sk))
}

fn item_line(item: &Item) -> String {
    let mut v = json!({
        "PK": item.key.pk, "SK": item.key.sk,
        "timestamp": item.timestamp.to_string(),
        "attrs": Value::Object(item.attrs.clone()),
    });
    if let Some(g) = &item.gsi1 {
        v["GSI1PK"] = json!(g.pk);
        v["GSI1SK"] = json!(g.sk);
    }
    v.to_string()
}

fn parse_item(line: &str) -> Result<Item, String> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| format!("an item line is not JSON: {e}"))?;
    let s = |k: &str| {
        v[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("an item has no {k}"))
    };
    let timestamp: jiff::Timestamp = s("timestamp")?
        .parse()
        .map_err(|_| "an item's timestamp is not ISO-8601".to_owned())?;
    let attrs: Map<String, Value> = v["attrs"]
        .as_object()
        .cloned()
        .ok_or_else(|| "an item has no attrs".to_owned())?;
    let mut item = Item::new(Key::new(s("PK")?, s("SK")?), attrs).with_timestamp(timestamp);
    if let (Some(pk), Some(sk)) = (v["GSI1PK"].as_str(), v["GSI1SK"].as_str()) {
        item = item.with_gsi1(pk, sk);
    }
    Ok(item)
}

/// Writes every item of `store` to `out` as an archive, calling `progress` with the items
/// written so far after each page.
pub async fn backup(
    store: &dyn Store,
    out: &mut impl Write,
    path: &Path,
    mut progress: impl FnMut(u64),
) -> Result<Report, BackupError> {
    let header = json!({"format": FORMAT, "version": VERSION, "created_at": jiff::Timestamp::now().to_string(), "source": store.backend()});
    let mut bytes = 0u64;
    let mut write = |out: &mut dyn Write, line: &str| -> Result<(), BackupError> {
        out.write_all(line.as_bytes()).map_err(io(path))?;
        out.write_all(b"\n").map_err(io(path))?;
        bytes += line.len() as u64 + 1;
        Ok(())
    };
    write(out, &header.to_string())?;
    let mut hash = digest::Context::new(&digest::SHA256);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut items = 0u64;
    let mut cursor = None;
    loop {
        let page = store.scan(cursor.as_ref(), PAGE).await?;
        for item in &page.items {
            let line = item_line(item);
            hash.update(line.as_bytes());
            hash.update(b"\n");
            write(out, &line)?;
            *counts.entry(item_type(&item.key)).or_default() += 1;
            items += 1;
        }
        progress(items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let manifest = Manifest {
        items,
        counts,
        sha256: hex(hash.finish().as_ref()),
    };
    write(out, &json!({"manifest": manifest}).to_string())?;
    out.flush().map_err(io(path))?;
    Ok(Report {
        manifest,
        bytes,
        resumed_from: 0,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn lines(
    path: &Path,
) -> Result<impl Iterator<Item = Result<String, BackupError>> + '_, BackupError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    Ok(BufReader::new(file)
        .lines()
        .map(move |l| l.map_err(io(path))))
}

/// Reads the whole archive and checks its header, every item line, the checksum and the counts.
pub fn verify(path: &Path) -> Result<Report, BackupError> {
    let mut it = lines(path)?;
    let header: Value = it
        .next()
        .transpose()?
        .and_then(|l| serde_json::from_str(&l).ok())
        .ok_or_else(|| {
            BackupError::Invalid("not a Moose backup: the first line is not its header".into())
        })?;
    if header["format"] != FORMAT {
        return Err(BackupError::Invalid(format!(
            "not a Moose backup (format {})",
            header["format"]
        )));
    }
    let version = header["version"].as_u64().unwrap_or(u64::MAX);
    if version > VERSION {
        return Err(BackupError::NewerFormat(version));
    }
    let mut hash = digest::Context::new(&digest::SHA256);
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut items = 0u64;
    let mut bytes = 0u64;
    let mut manifest: Option<Manifest> = None;
    let mut it = it.peekable();
    while let Some(line) = it.next() {
        let line = line?;
        bytes += line.len() as u64 + 1;
        if manifest.is_some() {
            return Err(BackupError::Invalid(
                "the archive continues after its manifest".into(),
            ));
        }
        if line.starts_with("{\"manifest\"") {
            let v: Value = serde_json::from_str(&line)
                .map_err(|_| BackupError::Invalid("the manifest is not JSON".into()))?;
            manifest = Some(
                serde_json::from_value(v["manifest"].clone())
                    .map_err(|_| BackupError::Invalid("the manifest is malformed".into()))?,
            );
            continue;
        }
        let item = match parse_item(&line) {
            Ok(item) => item,
            // The last line cut short: the archive ends inside an item.
            Err(_) if it.peek().is_none() => {
                return Err(BackupError::Invalid(format!(
                    "the archive is truncated: it ends inside an item after {items} items, with no manifest"
                )));
            }
            Err(e) => return Err(BackupError::Invalid(format!("line {}: {e}", items + 2))),
        };
        hash.update(line.as_bytes());
        hash.update(b"\n");
        *counts.entry(item_type(&item.key)).or_default() += 1;
        items += 1;
    }
    let manifest = manifest.ok_or_else(|| {
        BackupError::Invalid(format!(
            "the archive is truncated: no manifest after {items} items"
        ))
    })?;
    let sha256 = hex(hash.finish().as_ref());
    if sha256 != manifest.sha256 {
        return Err(BackupError::Invalid(
            "the archive's checksum does not match its manifest: it was altered or damaged".into(),
        ));
    }
    if items != manifest.items || counts != manifest.counts {
        return Err(BackupError::Invalid(format!(
            "the archive holds {items} items but its manifest says {}",
            manifest.items
        )));
    }
    Ok(Report {
        manifest,
        bytes,
        resumed_from: 0,
    })
}

/// Where restore records its progress for `archive`.
pub fn state_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".restore-state");
    PathBuf::from(name)
}

/// Verifies `archive`, then writes its items into `store` in batches, calling `progress` with
/// `(written, total)`. An empty target is required unless `force`, or unless an interrupted
/// restore of the same archive is being resumed.
pub async fn restore(
    store: &dyn Store,
    archive: &Path,
    force: bool,
    mut progress: impl FnMut(u64, u64),
) -> Result<Report, BackupError> {
    let mut report = verify(archive)?;
    let total = report.manifest.items;
    let state = state_path(archive);
    let resumed: u64 = std::fs::read_to_string(&state)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .filter(|v| v["sha256"] == report.manifest.sha256)
        .and_then(|v| v["written"].as_u64())
        .unwrap_or(0);
    if resumed == 0 && !force && !store.scan(None, 1).await?.items.is_empty() {
        return Err(BackupError::NotEmpty);
    }
    let save = |written: u64| -> Result<(), BackupError> {
        let v = json!({"sha256": report.manifest.sha256, "written": written});
        std::fs::write(&state, v.to_string()).map_err(io(&state))
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut written = 0u64;
    let mut seen = 0u64;
    progress(resumed, total);
    for line in lines(archive)?.skip(1) {
        let line = line?;
        if line.starts_with("{\"manifest\"") {
            break;
        }
        seen += 1;
        if seen <= resumed {
            continue;
        }
        batch.push(BatchOp::Put(
            parse_item(&line).map_err(BackupError::Invalid)?,
        ));
        if batch.len() == BATCH {
            store.batch_write(std::mem::take(&mut batch)).await?;
            written = seen;
            save(written)?;
            progress(written, total);
        }
    }
    if !batch.is_empty() {
        store.batch_write(batch).await?;
        written = seen;
    }
    progress(written.max(resumed), total);
    let _ = std::fs::remove_file(&state);
    report.resumed_from = resumed;
    Ok(report)
}
