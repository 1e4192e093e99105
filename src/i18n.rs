//! The language of what people read: report.html, PNG titles, legends and labels, QGIS style
//! labels and class names. Every text lives in one TOML file per language under `lang/`,
//! compiled in; [`LANGUAGES`] lists them, so a language is added by adding its file and one
//! line there. Machine columns, codes and file names are not translated.
//!
//! The language is chosen once per process ([`set`], from `--lang` or the run file's `lang`)
//! and read where texts are made ([`t`], [`tf`]); it is English until set. A key missing from a
//! language falls back to English (a test checks that none is missing).

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

use crate::error::{Error, Result};
use crate::phenology::dates::Date;
use crate::phenology::stage::Stage;

/// The languages compiled in: code (as `--lang` takes it) and the file's text.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en", include_str!("../lang/en.toml")),
    ("zh-CN", include_str!("../lang/zh-CN.toml")),
];

/// One language's texts, by dotted key (`report.title`, `stage.booting`).
#[derive(Debug)]
pub struct Texts {
    pub code: &'static str,
    pub texts: BTreeMap<String, String>,
    pub months: Vec<String>,
}

fn parse(code: &'static str, text: &str) -> Texts {
    // The files are part of the program: a broken one fails every test, so never a user.
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("lang/{code}.toml: {e}"));
    let mut texts = BTreeMap::new();
    let mut months = Vec::new();
    flatten("", &table, &mut texts, &mut months);
    Texts {
        code,
        texts,
        months,
    }
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
    months: &mut Vec<String>,
) {
    for (k, v) in table {
        let key = format!("{prefix}{k}");
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&format!("{key}."), t, out, months),
            toml::Value::Array(a) if key == "date.months" => {
                months.extend(a.iter().filter_map(|m| m.as_str().map(str::to_string)));
            }
            _ => {}
        }
    }
}

/// Every language, parsed once.
pub fn all() -> &'static [Texts] {
    static ALL: OnceLock<Vec<Texts>> = OnceLock::new();
    ALL.get_or_init(|| LANGUAGES.iter().map(|(c, t)| parse(c, t)).collect())
}

/// The language in use (index into [`all`]) and whether it was chosen explicitly.
static CURRENT: RwLock<(usize, bool)> = RwLock::new((0, false));

/// Whether `code` names a language compiled in.
pub fn known(code: &str) -> bool {
    find(code).is_some()
}

fn find(code: &str) -> Option<usize> {
    all().iter().position(|l| l.code.eq_ignore_ascii_case(code))
}

/// Choose the language by code (`en`, `zh-CN`); a usage error names the codes there are.
pub fn set(code: &str) -> Result<()> {
    let i = choose(code)?;
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = (i, true);
    Ok(())
}

/// Choose the language unless [`set`] chose one (a run file's `lang` under `--lang`).
pub fn set_default(code: &str) -> Result<()> {
    let i = choose(code)?;
    let mut current = CURRENT.write().unwrap_or_else(|e| e.into_inner());
    if !current.1 {
        *current = (i, false);
    }
    Ok(())
}

fn choose(code: &str) -> Result<usize> {
    find(code).ok_or_else(|| {
        let codes: Vec<&str> = LANGUAGES.iter().map(|(c, _)| *c).collect();
        Error::usage(format!(
            "--lang: unknown language '{code}': use one of {}",
            codes.join(", ")
        ))
    })
}

/// The language in use.
pub fn current() -> &'static Texts {
    let i = CURRENT.read().unwrap_or_else(|e| e.into_inner()).0;
    &all()[i.min(all().len() - 1)]
}

/// The text for `key` in the current language (English when it lacks the key, the key itself
/// when English does too).
pub fn t(key: &str) -> String {
    let lang = current();
    lang.texts
        .get(key)
        .or_else(|| all()[0].texts.get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// [`t`] with `{name}` placeholders filled.
pub fn tf(key: &str, values: &[(&str, &str)]) -> String {
    let mut text = t(key);
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// A stage in words (`panicle initiation`, `幼穗分化`).
pub fn stage(stage: Stage) -> String {
    t(&format!("stage.{}", stage.name()))
}

/// A stage's table name (`panicle_initiation`) in words; an unknown name is shown as it is,
/// its underscores as spaces.
pub fn stage_name(name: &str) -> String {
    Stage::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .map_or_else(|| name.replace('_', " "), stage)
}

/// A date as people of the language write a day of the year (`12 Jun`, `6月12日`).
pub fn date(d: Date) -> String {
    let (y, m, day) = d.ymd();
    let lang = current();
    let months = if lang.months.len() == 12 {
        &lang.months
    } else {
        &all()[0].months
    };
    let mon = months.get(m as usize - 1).cloned().unwrap_or_default();
    tf(
        "date.format",
        &[
            ("y", &y.to_string()),
            ("m", &m.to_string()),
            ("d", &day.to_string()),
            ("mon", &mon),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_english_key_and_no_other() {
        let en = &all()[0];
        assert_eq!(en.code, "en");
        assert_eq!(en.months.len(), 12);
        for lang in &all()[1..] {
            let missing: Vec<&String> = en
                .texts
                .keys()
                .filter(|k| !lang.texts.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{}: missing {missing:?}", lang.code);
            let extra: Vec<&String> = lang
                .texts
                .keys()
                .filter(|k| !en.texts.contains_key(*k))
                .collect();
            assert!(extra.is_empty(), "{}: unknown keys {extra:?}", lang.code);
            assert_eq!(lang.months.len(), 12, "{}", lang.code);
            // The same placeholders, so no value is lost in a translation.
            for (k, v) in &en.texts {
                let holes = |s: &str| {
                    let mut h: Vec<String> = s
                        .split('{')
                        .skip(1)
                        .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
                        .collect();
                    h.sort();
                    h
                };
                if k == "date.format" {
                    // A date is written with any of the day's parts.
                    let parts = ["d", "m", "mon", "y"];
                    let h = holes(&lang.texts[k]);
                    assert!(h.iter().all(|p| parts.contains(&p.as_str())), "{h:?}");
                } else {
                    assert_eq!(holes(v), holes(&lang.texts[k]), "{}: {k}", lang.code);
                }
            }
        }
        for s in Stage::ALL {
            assert!(en.texts.contains_key(&format!("stage.{}", s.name())));
        }
    }

    /// Whether `text` says `unit` after a number (`{n} kg`, `5 m`) or as a rate (`/ha`).
    fn says_unit(text: &str, unit: &str) -> bool {
        let ends_word = |rest: &str| !rest.starts_with(|c: char| c.is_ascii_alphabetic());
        [format!("}} {unit}"), format!("/{unit}")]
            .iter()
            .chain(
                (0..10)
                    .map(|d| format!("{d} {unit}"))
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .any(|before| {
                text.match_indices(before.as_str())
                    .any(|(i, m)| ends_word(&text[i + m.len()..]))
            })
    }

    /// Chinese texts say their units in Chinese, as a fertiliser bag does (千克, 公顷, 平方米,
    /// 升, 米, 秒), never kg, ha, m², L beside them: each unit an English text says is in its
    /// Chinese text, in Chinese.
    #[test]
    fn chinese_texts_say_every_unit_in_chinese() {
        const UNITS: [(&str, &str); 8] = [
            ("kg", "千克"),
            ("ha", "公顷"),
            ("m²", "平方米"),
            ("L", "升"),
            ("m", "米"),
            ("s", "秒"),
            ("min", "分"),
            ("h", "小时"),
        ];
        let en = &all()[0];
        let zh = all().iter().find(|l| l.code == "zh-CN").unwrap();
        let mut checked = 0;
        for (key, text) in &zh.texts {
            for (unit, chinese) in UNITS {
                assert!(!says_unit(text, unit), "zh-CN {key}: '{unit}' in {text:?}");
                if says_unit(&en.texts[key], unit) {
                    assert!(
                        text.contains(chinese),
                        "zh-CN {key}: no {chinese} in {text:?}"
                    );
                    checked += 1;
                }
            }
        }
        // The check sees units: the order's kg, the rates' ha, areas, litres, cells, times.
        assert!(checked >= 12, "{checked}");
        assert!(says_unit("{rate} kg {product}/ha", "ha"));
        assert!(!says_unit("per plot: {n} plot(s)", "s"));
        assert!(!says_unit("{m} min", "m"));
    }

    #[test]
    fn unknown_language_is_a_usage_error_naming_the_choices() {
        let e = set("xx").unwrap_err().to_string();
        assert!(e.contains("'xx'") && e.contains("zh-CN"), "{e}");
    }

    #[test]
    fn dates_and_stages_in_english() {
        // The process-wide language is English unless a test sets it; none of the unit tests do.
        let d = Date::from_ymd(2026, 6, 12).unwrap();
        assert_eq!(date(d), "12 Jun");
        assert_eq!(stage_name("panicle_initiation"), "panicle initiation");
        assert_eq!(stage_name("odd_one"), "odd one");
        assert_eq!(tf("legend.rate_unit", &[("unit", "kg/ha")]), "Rate (kg/ha)");
    }
}
