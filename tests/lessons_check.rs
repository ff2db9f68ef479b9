//! `lessons check` over the shipped lessons, its file:line messages on broken files, the
//! list command's lines, and lessons/README.md listing every condition name.

use std::path::{Path, PathBuf};

use moe_tutor::lessons::{check_dir, cli, Lang, Var};

fn lessons_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/lessons"))
}

#[test]
fn every_shipped_lesson_passes_the_check() {
    let errors: Vec<String> = check_dir(&lessons_dir())
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "lessons check:\n{}", errors.join("\n"));
}

#[test]
fn the_readme_lists_every_condition_name() {
    let text = std::fs::read_to_string(lessons_dir().join("README.md")).expect("README");
    for v in Var::ALL {
        let row = format!("| `{}` |", v.name());
        assert!(text.contains(&row), "lessons/README.md lacks {row}");
        assert!(
            text.contains(v.help()),
            "lessons/README.md lacks the help of {}",
            v.name()
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write");
}

const GOOD: &str = r#"id = "fine"
[title]
en = "Fine"
zh-CN = "好"
[summary]
en = "s"
zh-CN = "概"
sources = ["A 2020"]
[[step]]
kind = "prose"
[step.text]
en = "Cites [1]."
zh-CN = "引用 [1]。"
"#;

#[test]
fn problems_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "01-fine.toml", GOOD);
    write(
        dir.path(),
        "02-broken.toml",
        "id = \"broken\"\n[title]\nen = \"B\"\nzh-CN = \"坏\"\n[summary]\nen = \"s\"\nzh-CN = \"s\"\n\
[[step]]\nkind = \"task\"\ncondition = \"temprature > 1\"\n[step.text]\nen = \"x [2]\"\nzh-CN = \"y\"\n\
[[step]]\nkind = \"observe\"\npane = \"experts\"\n[step.text]\nen = \"x\"\n\
[[step]]\nkind = \"code\"\nlanguage = \"klingon\"\ncode = \"x\"\n[step.text]\nen = \"c\"\nzh-CN = \"c\"\n",
    );
    write(dir.path(), "03-syntax.toml", "id = \"syntax\"\n[title\n");
    let errors: Vec<String> = check_dir(dir.path())
        .iter()
        .map(|d| {
            let name = d.path.file_name().map(|n| n.to_string_lossy().into_owned());
            format!("{}:{}: {}", name.unwrap_or_default(), d.line, d.message)
        })
        .collect();
    let has = |prefix: &str, needle: &str| {
        errors
            .iter()
            .any(|e| e.starts_with(prefix) && e.contains(needle))
    };
    assert!(
        has("02-broken.toml:10:", "unknown name `temprature`"),
        "{errors:#?}"
    );
    assert!(has("02-broken.toml:12:", "citation [2]"), "{errors:#?}");
    assert!(
        has("02-broken.toml:16:", "unknown pane \"experts\""),
        "{errors:#?}"
    );
    assert!(has("02-broken.toml:17:", "no zh-CN text"), "{errors:#?}");
    assert!(has("02-broken.toml:21:", "klingon"), "{errors:#?}");
    assert!(has("03-syntax.toml:2:", ""), "{errors:#?}");
    assert!(
        !errors.iter().any(|e| e.starts_with("01-fine")),
        "{errors:#?}"
    );

    let mut out = Vec::new();
    assert!(!cli::check(dir.path(), &mut out).expect("write"));
    let mut out = Vec::new();
    assert!(!cli::list(dir.path(), Lang::ZhCn, &mut out).expect("write"));
    let text = String::from_utf8(out).expect("utf8");
    assert!(text.starts_with("fine  好  en,zh-CN  1 step\n"), "{text}");
    assert!(text.contains("02-broken.toml  (does not load:"), "{text}");
}
