//! The curated list of real MoE models (`assets/models/curated.toml`, compiled in): what
//! `model pull --curated` prints, what `model pull NAME` resolves, and what the welcome
//! screen and the model picker offer.

use serde::Deserialize;

use super::progress::human_bytes;
use super::PullRequest;
use crate::i18n::tr_with;

const CURATED: &str = include_str!("../../../assets/models/curated.toml");

/// Text in both languages.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Both {
    pub en: String,
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
}

impl Both {
    pub fn get(&self, lang: &str) -> &str {
        if lang == "zh-CN" {
            &self.zh_cn
        } else {
            &self.en
        }
    }
}

/// One curated model.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CuratedModel {
    pub name: String,
    pub title: String,
    pub repo: String,
    pub file: String,
    pub revision: String,
    /// The size as the hub's pages print it (rounded), when known.
    pub listed_size: Option<String>,
    /// Exact size in bytes, when known.
    pub bytes: Option<u64>,
    pub sha256: Option<String>,
    pub architecture: String,
    pub experts: String,
    pub active_params: String,
    pub licence: String,
    pub teaches: Both,
}

impl CuratedModel {
    pub fn request(&self) -> PullRequest {
        PullRequest {
            repo: self.repo.clone(),
            file: self.file.clone(),
            revision: self.revision.clone(),
            expected_sha256: self.sha256.clone(),
        }
    }

    /// `820 MiB`, `~822 MB` (as listed), or "size unknown" in `lang`.
    pub fn size_text(&self, lang: &str) -> String {
        match (&self.bytes, &self.listed_size) {
            (Some(b), _) => human_bytes(*b),
            (None, Some(l)) => format!("~{l}"),
            (None, None) => tr_with("pull.size_unknown", lang, &[]),
        }
    }
}

#[derive(Deserialize)]
struct File {
    model: Vec<CuratedModel>,
}

/// The shipped list, in its order (smallest first). A broken file is a build-time mistake
/// that the tests catch; here it reads as an empty list rather than a crash.
pub fn curated() -> Vec<CuratedModel> {
    toml::from_str::<File>(CURATED)
        .map(|f| f.model)
        .unwrap_or_default()
}

/// A curated model by name (case-insensitive).
pub fn find_curated(name: &str) -> Option<CuratedModel> {
    curated()
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name))
}

/// What the welcome screen and model picker offer: one line per curated model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The curated name (`/pull NAME`).
    pub name: String,
    /// "watch a real MoE: fetch NAME (SIZE)" in the chosen language.
    pub label: String,
    /// What the model teaches, in the chosen language.
    pub teaches: String,
}

/// Offers for every curated model, smallest first, in `lang`.
pub fn curated_offers(lang: &str) -> Vec<Offer> {
    curated()
        .into_iter()
        .map(|m| Offer {
            label: tr_with(
                "pull.offer",
                lang,
                &[("name", &m.name), ("size", &m.size_text(lang))],
            ),
            teaches: m.teaches.get(lang).to_string(),
            name: m.name,
        })
        .collect()
}

/// The `model pull --curated` listing in `lang`.
pub fn listing(lang: &str) -> String {
    let mut out = String::new();
    for m in curated() {
        out.push_str(&format!(
            "{:<18} {:>12}  {}\n{:<18} {}: {} · {}: {} · {}: {}\n{:<18} {}/{}\n{:<18} {}\n\n",
            m.name,
            m.size_text(lang),
            m.title,
            "",
            tr_with("pull.list.experts", lang, &[]),
            m.experts,
            tr_with("pull.list.active", lang, &[]),
            m.active_params,
            tr_with("pull.list.licence", lang, &[]),
            m.licence,
            "",
            m.repo,
            m.file,
            "",
            m.teaches.get(lang),
        ));
    }
    crate::text::sanitize(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_reads_and_is_smallest_first() {
        let list = curated();
        assert_eq!(list.len(), 6);
        assert_eq!(list[0].name, "granite-1b-a400m");
        for m in &list {
            if let Some(h) = &m.sha256 {
                assert_eq!(h.len(), 64, "{}", m.name);
                assert!(h.bytes().all(|b| b.is_ascii_hexdigit()), "{}", m.name);
                // A pinned hash only means something at a pinned commit.
                assert_eq!(m.revision.len(), 40, "{}", m.name);
            }
            assert!(!m.teaches.en.is_empty() && !m.teaches.zh_cn.is_empty());
        }
        assert_eq!(
            find_curated("MIXTRAL-8x7b").map(|m| m.bytes),
            Some(Some(28_446_410_112))
        );
        let offers = curated_offers("zh-CN");
        assert!(
            offers[0].label.contains("granite-1b-a400m（~822 MB）"),
            "{}",
            offers[0].label
        );
        assert!(curated_offers("en")[4].label.contains("size unknown"));
    }
}
