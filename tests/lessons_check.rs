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

/// Every text of a lesson in one language, code included.
fn all_texts(l: &moe_tutor::lessons::Lesson, lang: Lang) -> Vec<String> {
    use moe_tutor::lessons::StepKind;
    let mut out = vec![
        l.title.get(lang).to_string(),
        l.summary.get(lang).to_string(),
    ];
    for s in &l.steps {
        out.push(s.text.get(lang).to_string());
        match &s.kind {
            StepKind::Code { code, .. } => out.push(code.clone()),
            StepKind::Run { prompt, .. } | StepKind::Experiment { prompt, .. } => {
                out.push(prompt.get(lang).to_string())
            }
            StepKind::Task {
                hint: Some(hint), ..
            } => out.push(hint.get(lang).to_string()),
            StepKind::Quiz { question, choices } => {
                out.push(question.get(lang).to_string());
                for c in choices {
                    out.push(c.text.get(lang).to_string());
                    out.push(c.explain.get(lang).to_string());
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_figure_placeholder_names_a_figure_and_is_filled_in_both_languages() {
    use moe_tutor::lessons::load::Figures;
    let figures = Figures::builtin().expect("assets/default-model/figures.toml parses");
    let mut used = 0;
    for entry in std::fs::read_dir(lessons_dir()).expect("lessons/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let src = std::fs::read_to_string(&path).expect("read");
        for part in src.split("{fig:").skip(1) {
            let key = part.split('}').next().unwrap_or_default();
            assert!(
                figures.get(key).is_some(),
                "{}: unknown figure {key}",
                path.display()
            );
            used += 1;
        }
    }
    assert!(
        used >= 30,
        "the lessons use the figures file ({used} placeholders)"
    );
    let lib = moe_tutor::lessons::load_dir(&lessons_dir());
    assert!(lib.diagnostics().next().is_none());
    for lesson in lib.lessons() {
        for lang in Lang::ALL {
            for text in all_texts(lesson, lang) {
                assert!(
                    !text.contains("{fig:"),
                    "{} ({}): a placeholder was left: {text}",
                    lesson.id,
                    lang.code()
                );
            }
        }
    }
    // Spot checks of the substitution, one per scale, in both languages.
    let lora = lib.get("lora").expect("the LoRA lesson");
    let text = |lang| all_texts(lora, lang).join("\n");
    let shown = |key: &str, lang| figures.get(key).expect(key).show(lang);
    for lang in Lang::ALL {
        for key in ["params.trainable", "size.lora", "lora.rank.shared"] {
            assert!(text(lang).contains(&shown(key, lang)), "{key} in {lang:?}");
        }
    }
    assert!(text(Lang::En).contains("9.22M") && text(Lang::ZhCn).contains("922 万"));
    assert!(text(Lang::En).contains("17.9 MB"));
}

#[test]
fn a_project_figure_written_by_hand_or_an_unknown_key_fails_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let by_hand = GOOD
        .replace("id = \"fine\"", "id = \"by-hand\"")
        .replace("Cites [1].", "KL at k = 4 is 0.387 [1].");
    write(dir.path(), "01-by-hand.toml", &by_hand);
    let unknown = GOOD
        .replace("id = \"fine\"", "id = \"unknown\"")
        .replace("引用 [1]。", "引用 {fig:kl.app.k5} [1]。");
    write(dir.path(), "02-unknown.toml", &unknown);
    let placeholder = GOOD
        .replace("id = \"fine\"", "id = \"placeholder\"")
        .replace("Cites [1].", "KL at k = 4 is {fig:kl.app.k4} [1].");
    write(dir.path(), "03-placeholder.toml", &placeholder);
    let errors: Vec<String> = check_dir(dir.path())
        .iter()
        .map(|d| {
            let name = d.path.file_name().map(|n| n.to_string_lossy().into_owned());
            format!("{}:{}: {}", name.unwrap_or_default(), d.line, d.message)
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("01-by-hand.toml:12:") && e.contains("{fig:kl.app.k4}")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("02-unknown.toml:13:") && e.contains("kl.app.k5")),
        "{errors:#?}"
    );
    assert!(
        !errors.iter().any(|e| e.starts_with("03-placeholder")),
        "{errors:#?}"
    );
    let lib = moe_tutor::lessons::load_dir(dir.path());
    let step = &lib.get("placeholder").expect("loads").steps[0];
    assert_eq!(step.text.en, "KL at k = 4 is 0.387 [1].");
}

/// Lessons 015 (Chinese tokens) and 115 (MoE quantisation): the measured figures reach
/// the text in both languages, and the derived ones agree with the counts they come from.
#[test]
fn the_tokenizer_and_quantisation_lessons_show_consistent_measured_figures() {
    use moe_tutor::lessons::load::Figures;
    let figures = Figures::builtin().expect("assets/default-model/figures.toml parses");
    let value = |key: &str| figures.get(key).expect(key).value;
    let lib = moe_tutor::lessons::load_dir(&lessons_dir());
    let cases: [(&str, &[&str]); 2] = [
        (
            "chinese-tokens",
            &[
                "tok.pair.en.tokens",
                "tok.pair.zh.tokens",
                "tok.pair.zh.per_char",
                "tok.pair.ratio",
            ],
        ),
        (
            "moe-quantization",
            &[
                "share.experts.routed",
                "share.experts.all",
                "quant.agree.same_set",
                "quant.agree.overlap",
            ],
        ),
    ];
    for (id, keys) in cases {
        let lesson = lib.get(id).expect(id);
        for lang in Lang::ALL {
            let text = all_texts(lesson, lang).join("\n");
            for key in keys {
                let shown = figures.get(key).expect(key).show(lang);
                assert!(
                    text.contains(&shown),
                    "{id} ({lang:?}) shows {key} as {shown}"
                );
            }
        }
    }
    let close = |a: f64, b: f64| (a - b).abs() < 5e-4;
    let per_char = value("tok.pair.zh.tokens") / value("tok.pair.zh.chars");
    assert!(close(per_char, value("tok.pair.zh.per_char")));
    let per_char = value("tok.pair.en.tokens") / value("tok.pair.en.chars");
    assert!(close(per_char, value("tok.pair.en.per_char")));
    let ratio = value("tok.pair.zh.tokens") / value("tok.pair.en.tokens");
    assert!(close(ratio, value("tok.pair.ratio")));
    let total = value("bytes.tensors");
    let routed = value("bytes.experts.routed");
    assert!(close(routed / total, value("share.experts.routed")));
    let experts = routed + value("bytes.experts.shared");
    assert!(close(experts / total, value("share.experts.all")));
    assert!(value("bytes.tensors.experts_q4") < total);
    // 115 tokens x 30 MoE layers, and an overlap can never be below the exact matches.
    assert!(close(
        value("quant.agree.decisions"),
        value("quant.agree.tokens") * 30.0
    ));
    assert!(value("quant.agree.overlap") >= value("quant.agree.same_set"));
}

#[test]
fn an_experiment_file_step_needs_a_grid_that_exists_and_parses() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("experiments")).expect("mkdir");
    write(
        &dir.path().join("experiments"),
        "good.toml",
        "prompt = \"p\"\nseed = [1, 2]\n[[interventions]]\nname = \"ko\"\nknockout = [\"1:0\"]\n",
    );
    write(
        &dir.path().join("experiments"),
        "bad.toml",
        "prompt = \"p\"\ntop_p = [1.5]\n",
    );
    let step = |file: &str| {
        format!("[[step]]\nkind = \"experiment_file\"\nfile = \"{file}\"\n[step.text]\nen = \"e\"\nzh-CN = \"e\"\n")
    };
    let lesson =
        |id: &str, file: &str| GOOD.replace("\"fine\"", &format!("\"{id}\"")) + &step(file);
    write(
        dir.path(),
        "01-ok.toml",
        &lesson("ok", "experiments/good.toml"),
    );
    write(
        dir.path(),
        "02-gone.toml",
        &lesson("gone", "experiments/none.toml"),
    );
    write(
        dir.path(),
        "03-bad.toml",
        &lesson("bad", "experiments/bad.toml"),
    );
    let errors: Vec<String> = check_dir(dir.path())
        .iter()
        .map(|d| d.to_string())
        .collect();
    let has = |file: &str, needle: &str| {
        errors
            .iter()
            .any(|e| e.contains(file) && e.contains(":16:") && e.contains(needle))
    };
    assert!(!errors.iter().any(|e| e.contains("01-ok")), "{errors:#?}");
    assert!(has("02-gone", "cannot read it"), "{errors:#?}");
    assert!(has("03-bad", "top_p 1.5 is out of range"), "{errors:#?}");
    let lib = moe_tutor::lessons::load_dir(dir.path());
    let ok = lib.get("ok").expect("loads");
    match &ok.steps[1].kind {
        moe_tutor::lessons::StepKind::ExperimentFile { grid, .. } => {
            assert_eq!(grid.seed, vec![1, 2]);
            assert_eq!(grid.interventions[0].rules["knockout"], ["1:0"]);
        }
        other => panic!("{other:?}"),
    }
}
