//! Figures about the default model and the app, from `assets/default-model/figures.toml`
//! (the file documents its format): a lesson writes `{fig:KEY}` and loading puts in the
//! value, formatted per entry and per language. Lessons may not write these values by
//! hand ([`hand_written`]), so a remeasured figure changes every lesson at once.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::lessons::model::Lang;

/// The file, relative to the repository root.
pub const FILE: &str = "assets/default-model/figures.toml";

const BUILTIN: &str = include_str!("../../../assets/default-model/figures.toml");

/// How a figure is shown (`scale` in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Scale {
    /// The number, with thousands separators from 1,000 on.
    #[default]
    #[serde(rename = "")]
    Plain,
    /// Millions: `9.22M`; in Chinese 万 or 亿 with the same significant digits.
    #[serde(rename = "M")]
    Millions,
    /// Bytes as decimal megabytes: `17.9 MB`.
    #[serde(rename = "MB")]
    Megabytes,
    /// A fraction as a percentage: `70%`.
    #[serde(rename = "%")]
    Percent,
}

/// One `[[figure]]` of the file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub key: String,
    pub value: f64,
    pub unit: String,
    #[serde(default)]
    pub decimals: u8,
    #[serde(default)]
    pub scale: Scale,
    pub what: String,
    pub how: String,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    figure: Vec<Figure>,
}

/// Every figure of the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    list: Vec<Figure>,
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && !k.starts_with('.')
        && !k.ends_with('.')
        && !k.contains("..")
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

impl Figures {
    /// Parse and check a figures file: unique well-formed keys, finite values, every
    /// descriptive field filled in.
    pub fn parse(src: &str) -> Result<Figures, String> {
        let file: File = toml::from_str(src).map_err(|e| e.message().trim().to_string())?;
        let mut seen = HashSet::new();
        for f in &file.figure {
            if !valid_key(&f.key) {
                return Err(format!(
                    "figure key \"{}\" is not lowercase words joined by dots",
                    f.key
                ));
            }
            if !seen.insert(f.key.as_str()) {
                return Err(format!("figure key \"{}\" is given twice", f.key));
            }
            if !f.value.is_finite() {
                return Err(format!("figure {}: value is not a number", f.key));
            }
            for (name, v) in [
                ("unit", &f.unit),
                ("what", &f.what),
                ("how", &f.how),
                ("source", &f.source),
            ] {
                if v.trim().is_empty() {
                    return Err(format!("figure {}: `{name}` is empty", f.key));
                }
            }
        }
        Ok(Figures { list: file.figure })
    }

    /// The figures compiled in from [`FILE`].
    pub fn builtin() -> Result<&'static Figures, &'static str> {
        static PARSED: OnceLock<Result<Figures, String>> = OnceLock::new();
        PARSED
            .get_or_init(|| Figures::parse(BUILTIN).map_err(|e| format!("{FILE}: {e}")))
            .as_ref()
            .map_err(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&Figure> {
        self.list.iter().find(|f| f.key == key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Figure> {
        self.list.iter()
    }
}

/// `1234567` -> `1,234,567`.
fn group(digits: &str) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` with `decimals` digits after the point, thousands grouped from 1,000 on.
fn fixed(x: f64, decimals: usize, grouped: bool) -> String {
    let s = format!("{x:.decimals$}");
    let (sign, s) = s.strip_prefix('-').map_or(("", s.as_str()), |r| ("-", r));
    let (int, frac) = s.split_once('.').map_or((s, None), |(i, f)| (i, Some(f)));
    let int = if grouped && int.len() > 3 {
        group(int)
    } else {
        int.to_string()
    };
    match frac {
        Some(f) => format!("{sign}{int}.{f}"),
        None => format!("{sign}{int}"),
    }
}

/// `x` rounded to `sig` significant digits, with the decimals that needs and no more.
fn significant(x: f64, sig: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let e = x.abs().log10().floor() as i32;
    let decimals = (sig as i32 - 1 - e).max(0) as usize;
    let step = 10f64.powi(e - sig as i32 + 1);
    fixed((x / step).round() * step, decimals, false)
}

impl Figure {
    /// The value as a lesson shows it in `lang`.
    pub fn show(&self, lang: Lang) -> String {
        let d = self.decimals as usize;
        match self.scale {
            Scale::Plain => fixed(self.value, d, true),
            Scale::Megabytes => format!("{} MB", fixed(self.value / 1e6, d, true)),
            Scale::Percent => format!("{}%", fixed(self.value * 100.0, d, true)),
            Scale::Millions => {
                let en = fixed(self.value / 1e6, d, true);
                match lang {
                    Lang::En => format!("{en}M"),
                    Lang::ZhCn => {
                        let sig = en
                            .chars()
                            .filter(char::is_ascii_digit)
                            .skip_while(|c| *c == '0')
                            .count()
                            .max(1);
                        if self.value.abs() >= 1e8 {
                            format!("{} 亿", significant(self.value / 1e8, sig))
                        } else {
                            format!("{} 万", significant(self.value / 1e4, sig))
                        }
                    }
                }
            }
        }
    }

    /// The numbers a lesson must not write by hand: the shown forms without their unit,
    /// and the plain value (grouped and not), each with at least 3 digits.
    pub fn hand_forms(&self) -> Vec<String> {
        let mut forms = Vec::new();
        for lang in Lang::ALL {
            let shown = self.show(lang);
            let core: String = shown
                .trim_end_matches(['M', '%', '万', '亿'])
                .trim_end_matches(" MB")
                .trim()
                .to_string();
            forms.push(core);
        }
        if self.value.fract() == 0.0 && self.value.abs() >= 1000.0 {
            let plain = format!("{:.0}", self.value);
            forms.push(group(&plain));
            forms.push(plain);
        } else {
            forms.push(format!("{}", self.value));
        }
        forms.retain(|f| f.chars().filter(char::is_ascii_digit).count() >= 3);
        forms.sort();
        forms.dedup();
        forms
    }
}

const OPEN: &str = "{fig:";

/// Replace every `{fig:KEY}` of `text` with the figure shown in `lang`. Errors name the
/// unknown keys and unclosed placeholders.
pub fn substitute(text: &str, lang: Lang, figures: &Figures) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len()..];
        let Some(end) = after.find('}') else {
            errors.push(format!("`{OPEN}` without its closing `}}`"));
            rest = after;
            continue;
        };
        let key = &after[..end];
        match figures.get(key) {
            Some(f) => out.push_str(&f.show(lang)),
            None => errors.push(format!(
                "unknown figure {{fig:{key}}}: the keys are in {FILE}"
            )),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `text` without its placeholders.
fn outside_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        out.push(' ');
        let after = &rest[at + OPEN.len()..];
        rest = after.find('}').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}

/// Whether `form` occurs in `text` as a whole number: no digit, decimal point or
/// thousands separator joins it on either side.
fn occurs(text: &str, form: &str) -> bool {
    let bytes = text.as_bytes();
    let digit = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    text.match_indices(form).any(|(at, _)| {
        let end = at + form.len();
        let before = at.checked_sub(1).and_then(|i| bytes.get(i).copied());
        let after = bytes.get(end).copied();
        let joined_before = match before {
            Some(b) if b.is_ascii_digit() => true,
            Some(b'.' | b',') => digit(at.checked_sub(2)),
            _ => false,
        };
        let joined_after = match after {
            Some(b) if b.is_ascii_digit() => true,
            Some(b'.' | b',') => digit(Some(end + 1)),
            _ => false,
        };
        !joined_before && !joined_after
    })
}

/// The figures `text` writes by hand, outside placeholders: (key, the number written).
pub fn hand_written<'a>(text: &str, figures: &'a Figures) -> Vec<(&'a str, String)> {
    let text = outside_placeholders(text);
    let mut out = Vec::new();
    for f in figures.iter() {
        if let Some(form) = f.hand_forms().into_iter().find(|form| occurs(&text, form)) {
            out.push((f.key.as_str(), form));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(key: &str, value: f64, decimals: u8, scale: Scale) -> Figure {
        Figure {
            key: key.into(),
            value,
            unit: "u".into(),
            decimals,
            scale,
            what: "w".into(),
            how: "h".into(),
            source: "s".into(),
        }
    }

    #[test]
    fn formats_per_scale_and_language() {
        let m = |v, d| fig("a", v, d, Scale::Millions);
        assert_eq!(m(9_216_000.0, 2).show(Lang::En), "9.22M");
        assert_eq!(m(9_216_000.0, 2).show(Lang::ZhCn), "922 万");
        assert_eq!(m(276_480.0, 2).show(Lang::ZhCn), "28 万");
        assert_eq!(m(134_791_488.0, 1).show(Lang::En), "134.8M");
        assert_eq!(m(134_791_488.0, 1).show(Lang::ZhCn), "1.348 亿");
        assert_eq!(m(26_542_080.0, 1).show(Lang::ZhCn), "2650 万");
        assert_eq!(m(20_971_520.0, 0).show(Lang::ZhCn), "2100 万");
        let p = fig("b", 49_152.0, 0, Scale::Plain);
        assert_eq!(p.show(Lang::ZhCn), "49,152");
        assert_eq!(fig("c", 0.403, 3, Scale::Plain).show(Lang::En), "0.403");
        assert_eq!(fig("c", 0.0, 3, Scale::Plain).show(Lang::En), "0.000");
        assert_eq!(
            fig("d", 17_907_200.0, 1, Scale::Megabytes).show(Lang::En),
            "17.9 MB"
        );
        assert_eq!(fig("e", 0.7046, 0, Scale::Percent).show(Lang::En), "70%");
    }

    #[test]
    fn substitutes_and_reports_unknown_keys() {
        let figs = Figures {
            list: vec![fig("kl.k4", 0.403, 3, Scale::Plain)],
        };
        assert_eq!(
            substitute("KL {fig:kl.k4} nats", Lang::En, &figs),
            Ok("KL 0.403 nats".to_string())
        );
        let err = substitute("{fig:kl.k5} and {fig:kl", Lang::En, &figs).unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(err[0].contains("kl.k5"));
    }

    #[test]
    fn finds_hand_written_figures_as_whole_numbers_only() {
        let figs = Figures {
            list: vec![
                fig("kl.k4", 0.403, 3, Scale::Plain),
                fig("lora", 9_216_000.0, 2, Scale::Millions),
                fig("rank", 16.0, 0, Scale::Plain),
            ],
        };
        let keys =
            |t: &str| -> Vec<&str> { hand_written(t, &figs).into_iter().map(|(k, _)| k).collect() };
        assert_eq!(keys("KL is 0.403 here"), ["kl.k4"]);
        assert_eq!(keys("9,216,000 numbers"), ["lora"]);
        assert_eq!(keys("共 922 万个"), ["lora"]);
        assert_eq!(keys("9.22M"), ["lora"]);
        assert!(keys("KL {fig:kl.k4} and 0.4031 and 10.403 and 1,922").is_empty());
        assert!(keys("rank 16").is_empty(), "short numbers are not checked");
    }

    #[test]
    fn the_shipped_file_parses_and_rejects_mistakes() {
        let figs = Figures::builtin().expect("figures.toml");
        assert!(figs.get("kl.app.k4").is_some());
        let dup =
            "[[figure]]\nkey=\"a\"\nvalue=1\nunit=\"u\"\nwhat=\"w\"\nhow=\"h\"\nsource=\"s\"\n";
        assert!(Figures::parse(&format!("{dup}{dup}"))
            .unwrap_err()
            .contains("twice"));
        assert!(Figures::parse(&dup.replace("how=\"h\"", "how=\" \""))
            .unwrap_err()
            .contains("how"));
        assert!(Figures::parse(&dup.replace("key=\"a\"", "key=\"A b\"")).is_err());
        assert!(Figures::parse(&dup.replace("unit", "units")).is_err());
    }
}
