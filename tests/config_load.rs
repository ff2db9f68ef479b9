//! Settings: defaults, the user's file merged over them, a damaged file moved aside with a
//! notice, atomic saves, colour depth, and the completions subcommand.

use moe_tutor::config::{self, color_depth, ColorChoice, Config};

#[test]
fn the_built_in_defaults_parse_and_a_first_run_writes_them() {
    let d = Config::default();
    assert_eq!(d.sampling.temperature, 0.7);
    assert_eq!(d.sampling.max_tokens, 512);
    assert_eq!(d.theme.colors, ColorChoice::Auto);
    assert_eq!(d.language, "auto");
    assert!(d.model.is_none() && d.keymap.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("config.toml");
    let loaded = config::load(&path);
    assert_eq!(loaded.config, d);
    assert!(loaded.notices.is_empty());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        config::DEFAULT_TOML
    );
}

#[test]
fn the_users_file_is_merged_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "model = \"/m/olmoe.gguf\"\n[sampling]\ntop_p = 0.5\n[theme]\ncolors = \"16\"\n\
         [keymap]\nregenerate = [\"f12\"]\n[sampling_typo]\nx = 1\n",
    )
    .unwrap();
    let loaded = config::load(&path);
    let c = &loaded.config;
    assert_eq!(
        c.model.as_deref(),
        Some(std::path::Path::new("/m/olmoe.gguf"))
    );
    assert_eq!(c.sampling.top_p, 0.5);
    assert_eq!(c.sampling.temperature, 0.7, "unset keys keep their default");
    assert_eq!(c.theme.colors, ColorChoice::Ansi16);
    assert_eq!(c.keymap["regenerate"], ["f12"]);
    assert_eq!(loaded.notices.len(), 1);
    assert!(
        loaded.notices[0].to_string().contains("sampling_typo"),
        "{:?}",
        loaded.notices
    );
}

#[test]
fn a_damaged_file_is_moved_aside_and_the_defaults_are_used() {
    for text in [
        "[sampling\ntemperature = ",
        "[sampling]\ntemperature = \"hot\"\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        let loaded = config::load(&path);
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.notices.len(), 1);
        assert!(
            loaded.notices[0].to_string().contains("damaged"),
            "{:?}",
            loaded.notices
        );
        assert!(!path.exists(), "moved away");
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(aside.len(), 1);
        assert!(aside[0].starts_with("config.toml.damaged-"), "{aside:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join(&aside[0])).unwrap(),
            text,
            "the user's text is kept"
        );
    }
}

#[test]
fn saving_is_atomic_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let mut c = Config::default();
    c.sampling.seed = 7;
    c.keymap.insert("quit".into(), vec!["ctrl+x".into()]);
    config::save(&c, &path).unwrap();
    assert_eq!(config::load(&path).config, c);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "no temporary file left");
}

#[test]
fn colour_depth_follows_no_color_the_config_and_the_terminal() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let auto = ColorChoice::Auto;
    assert_eq!(
        color_depth(auto, env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
        ColorChoice::None
    );
    assert_eq!(
        color_depth(ColorChoice::TrueColor, env(&[("NO_COLOR", "1")])),
        ColorChoice::None
    );
    // An empty NO_COLOR does not count.
    assert_eq!(
        color_depth(auto, env(&[("NO_COLOR", ""), ("COLORTERM", "24bit")])),
        ColorChoice::TrueColor
    );
    assert_eq!(
        color_depth(auto, env(&[("TERM", "xterm-256color")])),
        ColorChoice::Ansi256
    );
    assert_eq!(
        color_depth(auto, env(&[("TERM", "xterm")])),
        ColorChoice::Ansi16
    );
    assert_eq!(
        color_depth(auto, env(&[("TERM", "dumb")])),
        ColorChoice::None
    );
    assert_eq!(
        color_depth(ColorChoice::Ansi16, env(&[("COLORTERM", "truecolor")])),
        ColorChoice::Ansi16
    );
}

#[test]
fn completions_print_a_script_for_each_shell() {
    for (shell, marker) in [
        ("bash", "COMPREPLY"),
        ("zsh", "#compdef moe-tutor"),
        ("fish", "complete -c moe-tutor"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_moe-tutor"))
            .args(["completions", shell])
            .env("MOE_TUTOR_DATA_DIR", tempfile::tempdir().unwrap().path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..text.len().min(300)]
        );
        assert!(text.contains("completions"), "{shell}");
    }
}
