//! The README documents what the app does: every key binding and every CLI flag.

use moe_tutor::app::keymap::{help_rows, Section};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn readme_lists_every_key_binding() {
    let text = readme();
    for section in Section::ALL {
        for (keys, help) in help_rows(section, "en") {
            let row = format!("| {keys} | {help} |");
            assert!(text.contains(&row), "README lacks the key row {row:?}");
        }
    }
}

#[test]
fn readme_mentions_every_cli_flag() {
    use clap::CommandFactory;
    let text = readme();
    let cmd = moe_tutor::cli::Cli::command();
    let mut all = vec![cmd.clone()];
    all.extend(cmd.get_subcommands().cloned());
    for sub in cmd.get_subcommands() {
        all.extend(sub.get_subcommands().cloned());
    }
    for c in all {
        for arg in c.get_arguments() {
            if let Some(long) = arg.get_long() {
                if long == "help" || long == "version" {
                    continue;
                }
                assert!(text.contains(&format!("--{long}")), "README lacks --{long}");
            }
        }
    }
}
