//! The journal reader on arbitrary bytes: never panics, and appending a good record after
//! any damage (closed off the way `Journal::open` does) always reads back.
#![no_main]

use libfuzzer_sys::fuzz_target;

// `reader.rs` names its sibling as `super::record`: both sit at the crate root here.
#[path = "../../src/store/reader.rs"]
#[allow(dead_code)]
mod reader;
#[path = "../../src/store/record.rs"]
#[allow(dead_code)]
mod record;

use record::{MessageRecord, Record, Speaker};

fuzz_target!(|data: &[u8]| {
    let conv = reader::parse(data);
    let _ = conv.title(60);
    let mut file = data.to_vec();
    if file.last().is_some_and(|b| *b != b'\n') {
        file.push(b'\n');
    }
    let msg = MessageRecord {
        role: Speaker::User,
        content: "after the damage".into(),
        status: "complete".into(),
        time: 1,
        sampling: None,
        routing: None,
    };
    let line = serde_json::to_string(&Record::Message(msg.clone())).unwrap_or_default();
    file.extend_from_slice(line.as_bytes());
    file.push(b'\n');
    let after = reader::parse(&file);
    // Whatever came before, a good line appended after it reads back, last.
    assert_eq!(after.messages.last(), Some(&msg));
});
