//! The app's own words in English and Simplified Chinese: one catalogue,
//! `assets/i18n/app.toml`, compiled in by rust-i18n. Call sites name a message by its key
//! and the language the learner chose (F10, `--lang`, the config or the locale); a test
//! checks every key used exists in both languages with the same `%{placeholders}`.

/// The message `key` in `lang` ("en" or "zh-CN"; English when a message is missing).
pub fn tr(key: &str, lang: &str) -> String {
    rust_i18n::t!(key, locale = lang).into_owned()
}

/// [`tr`] with `%{name}` placeholders filled in.
pub fn tr_with(key: &str, lang: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut s = tr(key, lang);
    for (name, value) in args {
        s = s.replace(&format!("%{{{name}}}"), &value.to_string());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_and_placeholders() {
        assert_eq!(tr("title.chat", "en"), " chat ");
        assert_eq!(tr("title.chat", "zh-CN"), " 对话 ");
        assert_eq!(
            tr_with("state.prefill_pct", "zh-CN", &[("pct", &40)]),
            "读取提示 40%"
        );
    }
}
