//! Journals and atomic saves on a real disk (a temp dir), including a crash mid-line and a
//! disk that fills up mid-write.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use moe_tutor::store::atomic::{write_atomic, write_atomic_with};
use moe_tutor::store::list::{self, to_markdown};
use moe_tutor::store::reader::parse;
use moe_tutor::store::{Journal, MessageRecord, Record, SamplingRecord, Sink, Speaker};

fn msg(role: Speaker, content: &str) -> MessageRecord {
    MessageRecord {
        role,
        content: content.into(),
        status: "complete".into(),
        time: 1_779_285_792,
        sampling: Some(SamplingRecord {
            temperature: 0.7,
            top_p: 0.9,
            seed: 42,
            max_tokens: 64,
        }),
        routing: None,
    }
}

/// A writer that accepts `left` more bytes, then fails like a full disk (ENOSPC).
struct DiskFull<W> {
    inner: W,
    left: Arc<AtomicUsize>,
}

impl<W: Write> Write for DiskFull<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.left.load(Ordering::SeqCst);
        if left == 0 {
            return Err(io::Error::from_raw_os_error(28));
        }
        let n = self.inner.write(&buf[..buf.len().min(left)])?;
        self.left.fetch_sub(n, Ordering::SeqCst);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An in-memory journal file shared with the test.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for DiskFull<Shared> {
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_journal_reads_back_what_was_appended() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), 1_779_285_792, "tiny (m.gguf)").unwrap();
    assert!(
        j.path().ends_with("20260520-140312.jsonl"),
        "{:?}",
        j.path()
    );
    j.append(&Record::Message(msg(Speaker::User, "hello")))
        .unwrap();
    j.append(&Record::Message(msg(Speaker::Assistant, "hi **there**")))
        .unwrap();
    // Regenerating takes the reply back; the journal is never rewritten.
    j.append(&Record::Truncate { keep: 1 }).unwrap();
    j.append(&Record::Message(msg(Speaker::Assistant, "hey")))
        .unwrap();
    let conv = list::read(j.path()).unwrap();
    assert_eq!(conv.skipped, 0);
    assert_eq!(conv.start.as_ref().unwrap().model, "tiny (m.gguf)");
    let texts: Vec<&str> = conv.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["hello", "hey"]);
    // A second conversation in the same second gets its own file.
    let j2 = Journal::create(dir.path(), 1_779_285_792, "").unwrap();
    assert_ne!(j2.path(), j.path());
}

#[test]
fn a_torn_last_line_is_skipped_and_never_glues_onto_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), 100, "m").unwrap();
    j.append(&Record::Message(msg(Speaker::User, "first")))
        .unwrap();
    let path = j.path().to_path_buf();
    drop(j);
    // A crash in the middle of writing the reply's line.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"type":"message","role":"assistant","content":"half a rep"#)
        .unwrap();
    drop(f);
    let conv = list::read(&path).unwrap();
    assert_eq!(conv.messages.len(), 1);
    assert_eq!(conv.skipped, 1);
    // The app restarts and the conversation goes on.
    let mut j = Journal::open(&path).unwrap();
    j.append(&Record::Message(msg(Speaker::User, "second")))
        .unwrap();
    let conv = list::read(&path).unwrap();
    let texts: Vec<&str> = conv.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(conv.skipped, 1);
}

#[test]
fn a_disk_that_fills_mid_line_loses_only_that_line() {
    let file = Shared::default();
    let left = Arc::new(AtomicUsize::new(usize::MAX));
    let sink = DiskFull {
        inner: file.clone(),
        left: left.clone(),
    };
    let mut j = Journal::from_sink(sink, "mem.jsonl".into());
    j.append(&Record::Message(msg(Speaker::User, "kept")))
        .unwrap();
    // The disk fills 20 bytes into the next line.
    let before = file.0.lock().unwrap().len();
    left.store(20, Ordering::SeqCst);
    let err = j
        .append(&Record::Message(msg(
            Speaker::Assistant,
            "lost to the full disk",
        )))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(28));
    assert_eq!(file.0.lock().unwrap().len(), before + 20);
    // Space is freed; the same journal goes on, on a line of its own.
    left.store(usize::MAX, Ordering::SeqCst);
    j.append(&Record::Message(msg(Speaker::User, "after")))
        .unwrap();
    let conv = parse(&file.0.lock().unwrap());
    let texts: Vec<&str> = conv.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["kept", "after"]);
    assert_eq!(conv.skipped, 1);
}

#[test]
fn a_save_that_fails_after_n_bytes_leaves_the_previous_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    write_atomic(&path, b"old = true\n").unwrap();
    for n in [0, 1, 7, 4096] {
        let big = vec![b'x'; 10_000];
        let err = write_atomic_with(&path, |f| {
            let mut w = DiskFull {
                inner: f,
                left: Arc::new(AtomicUsize::new(n)),
            };
            w.write_all(&big)
        })
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28), "after {n} bytes");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"old = true\n",
            "after {n} bytes"
        );
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["config.toml"], "after {n} bytes");
    }
    write_atomic(&path, b"new = true\n").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new = true\n");
}

#[test]
fn conversations_are_listed_newest_first_searched_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Journal::create(dir.path(), 1_000, "m").unwrap();
    a.append(&Record::Message(msg(
        Speaker::User,
        "Which expert handles Rust?",
    )))
    .unwrap();
    a.append(&Record::Message(msg(
        Speaker::Assistant,
        "Expert 3, mostly.",
    )))
    .unwrap();
    let mut b = Journal::create(dir.path(), 2_000, "m").unwrap();
    b.append(&Record::Message(msg(
        Speaker::User,
        "Tell me about routers\nin detail",
    )))
    .unwrap();
    // An empty conversation (only the start line) is not listed; nor is other junk.
    Journal::create(dir.path(), 3_000, "m").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
    std::fs::write(dir.path().join("junk.jsonl"), [0xff, b'\n', b'{']).unwrap();

    let all = list::list(dir.path()).unwrap();
    let titles: Vec<&str> = all.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Tell me about routers", "Which expert handles Rust?"]
    );
    assert_eq!(all[1].messages, 2);
    let hits = list::search(&all, "EXPERT rust");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].path, a.path());
    assert!(hits[0].snippet("expert", 40).unwrap().contains("expert"));
    assert!(list::search(&all, "nowhere").is_empty());
    assert_eq!(list::search(&all, "").len(), 2);
    assert!(list::list(&dir.path().join("missing")).unwrap().is_empty());

    let conv = list::read(a.path()).unwrap();
    let md = to_markdown(&conv);
    assert!(md.starts_with("# Which expert handles Rust?\n"), "{md}");
    assert!(md.contains("## You\n\n*T 0.70 · top_p 0.90 · seed 42*\n\nWhich expert"));
    assert!(md.contains("## Model"));
    let out = dir.path().join("exports").join("a.md");
    list::export(&conv, &out).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), md);
}

#[test]
fn markdown_export_carries_no_escape_sequences() {
    let conv = parse(
        b"{\"type\":\"message\",\"role\":\"assistant\",\"content\":\"a\\u001b]52;c;eA==\\u0007b\\u001b[2J\"}\n",
    );
    assert_eq!(conv.messages.len(), 1);
    let md = to_markdown(&conv);
    assert!(!md.contains('\u{1b}') && !md.contains('\u{7}'), "{md:?}");
    assert!(md.contains("ab"));
}
