//! Appending to a conversation journal. Each record is one line written with a single
//! `write` and flushed to disk, so a crash loses at most the line being written; a torn
//! line (no newline at its end) is closed off before the next append, so it never glues
//! onto a good record.

use std::fs::{File, OpenOptions};

use super::private;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::record::{Record, StartRecord, VERSION};

/// Where journal lines go: a file, or in tests a writer that fails like a full disk.
pub trait Sink: Write {
    /// Make what was written durable (fsync for a file).
    fn sync(&mut self) -> io::Result<()>;
}

impl Sink for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_data()
    }
}

/// An open journal.
#[derive(Debug)]
pub struct Journal<W: Sink = File> {
    sink: W,
    path: PathBuf,
    /// The last write may have stopped mid-line: start the next one on a new line.
    torn: bool,
}

impl Journal<File> {
    /// Start a new journal in `dir`, named after its start time; writes the `start` line.
    /// The journal is readable by its owner only (0600; a folder made for it, 0700).
    pub fn create(dir: &Path, created: u64, model: &str) -> io::Result<Journal> {
        private::create_dir_all(dir)?;
        let stamp = super::time::file_stamp(created);
        let mut n = 0u32;
        let (path, file) = loop {
            let id = if n == 0 {
                stamp.clone()
            } else {
                format!("{stamp}-{n}")
            };
            let path = dir.join(format!("{id}.jsonl"));
            match private::open_options()
                .append(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        };
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut j = Journal::from_sink(file, path);
        j.append(&Record::Start(StartRecord {
            v: VERSION,
            id,
            created,
            model: model.to_string(),
        }))?;
        Ok(j)
    }

    /// Reopen a journal to go on appending. A torn last line is closed off first.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut file = OpenOptions::new().read(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        let mut torn = false;
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            torn = last[0] != b'\n';
        }
        Ok(Journal {
            sink: file,
            path: path.to_path_buf(),
            torn,
        })
    }
}

impl<W: Sink> Journal<W> {
    pub fn from_sink(sink: W, path: PathBuf) -> Self {
        Journal {
            sink,
            path,
            torn: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn sink(&self) -> &W {
        &self.sink
    }

    /// Append one record as one line and flush it to disk.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        let json = serde_json::to_string(record).map_err(io::Error::other)?;
        let mut line = Vec::with_capacity(json.len() + 2);
        if self.torn {
            line.push(b'\n');
        }
        line.extend_from_slice(json.as_bytes());
        line.push(b'\n');
        // Until this write is known to be complete, the file may end mid-line.
        self.torn = true;
        self.sink.write_all(&line)?;
        self.sink.flush()?;
        self.torn = false;
        self.sink.sync()
    }
}
