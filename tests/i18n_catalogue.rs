//! The app's own text lives in one catalogue (`assets/i18n/app.toml`): every message has
//! English and Simplified Chinese, every key the code asks for exists, and placeholders
//! match between the two languages.

mod app_support;

use std::collections::BTreeSet;
use std::path::Path;

use app_support::{draw, loaded, moe_info, press, rows, type_text};

use crossterm::event::KeyCode;
use moe_tutor::engine::api::EngineEvent;

fn catalogue() -> toml::Table {
    let text = std::fs::read_to_string("assets/i18n/app.toml").expect("read the catalogue");
    text.parse::<toml::Table>().expect("the catalogue is TOML")
}

/// Leaf messages as (dotted key, table of languages).
fn messages(t: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Table)>) {
    for (k, v) in t {
        if k == "_version" {
            continue;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let Some(sub) = v.as_table() else {
            panic!("{key}: expected a table of languages");
        };
        if sub.values().all(|v| v.is_str()) {
            out.push((key, sub.clone()));
        } else {
            messages(sub, &key, out);
        }
    }
}

fn placeholders(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(i) = rest.find("%{") {
        let Some(j) = rest[i..].find('}') else { break };
        out.insert(rest[i + 2..i + j].to_string());
        rest = &rest[i + j..];
    }
    out
}

#[test]
fn every_message_has_both_languages_with_the_same_placeholders() {
    let mut all = Vec::new();
    messages(&catalogue(), "", &mut all);
    assert!(!all.is_empty());
    for (key, langs) in &all {
        let en = langs.get("en").and_then(|v| v.as_str());
        let zh = langs.get("zh-CN").and_then(|v| v.as_str());
        let (Some(en), Some(zh)) = (en, zh) else {
            panic!("{key}: needs both en and zh-CN");
        };
        assert!(
            !en.trim().is_empty() && !zh.trim().is_empty(),
            "{key}: empty"
        );
        assert_eq!(
            placeholders(en),
            placeholders(zh),
            "{key}: placeholders differ"
        );
        assert_eq!(langs.len(), 2, "{key}: only en and zh-CN");
    }
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_key_the_code_uses_exists() {
    let mut all = Vec::new();
    messages(&catalogue(), "", &mut all);
    let known: BTreeSet<String> = all.into_iter().map(|(k, _)| k).collect();
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut used = 0;
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for pat in ["t!(\"", "tr(\"", "tr_with(\""] {
            for (i, _) in text.match_indices(pat) {
                // `tr(` must be a call of its own, not the end of `get_str(`.
                let before = text[..i].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let rest = &text[i + pat.len()..];
                let key = &rest[..rest.find('"').expect("closing quote")];
                let keyish = !key.is_empty()
                    && key.contains('.')
                    && key
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c));
                if !keyish {
                    continue; // another function's string, not a message key
                }
                used += 1;
                assert!(
                    known.contains(key),
                    "{}: unknown message key {key}",
                    f.display()
                );
            }
        }
    }
    assert!(used > 0, "the code uses the catalogue");
}

/// Keys held in tables (key help, key bar, help sections, slash commands) exist too.
#[test]
fn every_key_in_the_tables_exists() {
    use moe_tutor::app::commands::SLASH;
    use moe_tutor::app::keymap::{Section, KEYMAP};
    let mut all = Vec::new();
    messages(&catalogue(), "", &mut all);
    let known: BTreeSet<String> = all.into_iter().map(|(k, _)| k).collect();
    let mut keys: Vec<&str> = Vec::new();
    for b in KEYMAP {
        keys.push(b.help);
        keys.extend(b.bar);
    }
    keys.extend(Section::ALL.iter().map(|s| s.title()));
    keys.extend(SLASH.iter().flat_map(|c| c.help.iter().map(|(_, h)| *h)));
    for k in keys {
        assert!(known.contains(k), "unknown message key {k}");
    }
}

/// After F10 the app's notices and errors speak Chinese too; text from the engine stays
/// as it came (sanitised) inside the translated frame, and F10 again brings English back.
#[test]
fn notices_follow_the_language_switch() {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    fn say(app: &mut moe_tutor::app::App, line: &str) -> (String, bool) {
        type_text(app, line);
        press(app, KeyCode::Enter);
        let n = app.notice().expect("a notice");
        (n.text.clone(), n.is_error)
    }

    press(&mut app, KeyCode::F(10));
    assert_eq!(app.lang().code(), "zh-CN");

    let (text, is_error) = say(&mut app, "/frobnicate");
    assert_eq!(text, "未知命令 /frobnicate：/help 列出所有命令");
    assert!(is_error);

    let (text, is_error) = say(&mut app, "/experts 99");
    assert_eq!(
        text,
        "用法：/experts <1..8>：每个词元使用的专家数（当前 2）"
    );
    assert!(is_error);

    let (text, is_error) = say(&mut app, "/knockout 1 3");
    assert_eq!(
        text,
        "第 1 层：e3 已被屏蔽（路由面板标为 ✗），从下一个词元起生效"
    );
    assert!(!is_error);

    let (text, is_error) = say(&mut app, "/knockout 9 1");
    assert_eq!(text, "第 9 层不存在：此模型的层为 0..2");
    assert!(is_error);

    let (text, _) = say(&mut app, "/seed 7");

    assert_eq!(text, "随机种子设为 7");

    app.on_engine_event(EngineEvent::LoadFailed(
        "\x1b[31mno such file: a.gguf".into(),
    ));
    let n = app.notice().expect("a notice");
    assert!(n.text.starts_with("无法加载模型："), "{}", n.text);
    assert!(n.text.contains("no such file: a.gguf") && !n.text.contains('\x1b'));

    press(&mut app, KeyCode::F(10));
    let (text, _) = say(&mut app, "/frobnicate");
    assert_eq!(
        text,
        "unknown command /frobnicate: /help lists the commands"
    );
}

/// A damaged progress file is reported in the language the lessons start in, its path and
/// the parser's reason kept as they are.
#[test]
fn a_damaged_progress_file_is_reported_in_chinese() {
    use moe_tutor::app::lessons::LessonSetup;
    use moe_tutor::lessons::{Lang, Library, ProgressStore};
    let dir = std::env::temp_dir().join(format!("moe-tutor-i18n-notice-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("progress.json");
    std::fs::write(&path, b"{not json").expect("write");
    let mut app = loaded(moe_info(8, 2, 3, 1));
    app.setup_lessons(LessonSetup {
        library: Library::default(),
        lang: Lang::ZhCn,
        store: Some(ProgressStore::at(&path)),
        open_list: false,
        lang_explicit: true,
    });
    let n = app.notice().expect("a notice").clone();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(n.is_error);
    let want = format!("{} 中的课程进度已损坏（", path.display());
    assert!(n.text.starts_with(&want), "{}", n.text);
    assert!(n.text.ends_with("）；将从头开始"), "{}", n.text);
}

/// Key bindings that cannot be applied are named in the learner's language; the names the
/// learner wrote stay as written.
#[test]
fn key_table_problems_in_chinese() {
    use moe_tutor::app::keymap::Keymap;
    let over: Vec<(String, Vec<String>)> = vec![
        ("no_such_action".into(), vec!["ctrl+r".into()]),
        ("quit".into(), vec!["q".into(), "hyper+x".into()]),
    ];
    let (_, problems) = Keymap::with_overrides_in(over.iter().map(|(a, k)| (a, k)), "zh-CN");
    assert_eq!(
        problems,
        [
            "keymap：没有名为 \"no_such_action\" 的操作",
            "keymap：quit：\"q\"：单个普通字符不能作为命令键（输入文字需要它）",
            "keymap：quit：\"hyper+x\"：未知的修饰键 \"hyper\"",
        ]
    );
}

/// A damaged settings file is reported in Chinese when asked, English by default.
#[test]
fn settings_notices_in_both_languages() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[sampling\n").expect("write");
    let loaded = moe_tutor::config::load(&path);
    let [notice] = loaded.notices.as_slice() else {
        panic!("one notice: {:?}", loaded.notices);
    };
    let zh = notice.text("zh-CN");
    assert!(zh.starts_with("设置文件已损坏（"), "{zh}");
    assert!(zh.ends_with("，并使用默认设置"), "{zh}");
    let en = notice.to_string();
    assert!(en.starts_with("the settings file was damaged ("), "{en}");
}

/// What a pane shows in place of content (no tokens yet) follows F10 too.
#[test]
fn empty_panes_speak_chinese() {
    let mut app = loaded(moe_info(8, 2, 3, 1));
    press(&mut app, KeyCode::F(10));
    // Wide characters leave a blank cell after them: compare without spaces.
    let screen: Vec<String> = rows(&draw(&app, 160, 48))
        .iter()
        .map(|r| r.replace(' ', ""))
        .collect();
    let shows = |s: &str| screen.iter().any(|r| r.contains(&s.replace(' ', "")));
    assert!(
        shows("还没有词元：模型读取和生成时它们会出现在这里"),
        "{screen:#?}"
    );
    assert!(
        shows("还没有词元。发送一条消息"),
        "routing pane: {screen:#?}"
    );
    assert!(
        !shows("no tokens yet") && !shows("No tokens yet"),
        "{screen:#?}"
    );
}
