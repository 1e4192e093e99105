//! `report.html`: the run for a person. One self-contained page — inline CSS, the quicklook PNGs
//! embedded as data URIs, no script, no font or image from the network — that opens from the run
//! folder on a laptop or a phone. It leads with what a person acts on: the totals to order and
//! the prescription maps; then failures, notes, the plots (a table, one card per plot on a
//! phone), the other maps, every unit with links to its outputs, the inputs and the config
//! hash. Its texts are in the language chosen ([`crate::i18n`]); reasons and errors as paddy
//! wrote them.
//!
//! Every text taken from the report is HTML-escaped; output paths become percent-encoded relative
//! links, so a file name with a space, `#` or `?` still opens the right file.

use std::path::Path;

use base64::Engine as _;

use super::report::{
    OutputKind, PlotLine, Report, RxDates, StageDates, Status, UnitKind, UnitReport,
};
use crate::error::Result;
use crate::export::quicklook::LEGEND_TEXT_PX;
use crate::i18n::{self, t, tf};
use crate::rx::output::RxReport;

/// A quicklook larger than this is linked, not embedded (the page must stay light to open).
const MAX_EMBED_BYTES: u64 = 16 * 1024 * 1024;
/// The inputs list starts open when it is no longer than this.
const INPUTS_OPEN: usize = 12;
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Colours follow the quicklooks' (src/export/quicklook.rs): dark text, a pale green title
/// band, grey-green rules. Under 600 px the tables become one card per row (`.cards`), so
/// nothing scrolls sideways on a phone; words break only between words, long paths anywhere.
const CSS: &str = r#":root{color-scheme:light;--text:#232323;--muted:#646862;--rule:#d2d6d0;--band:#eef2ec}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:var(--text);background:#fff}
header{background:var(--band);border-bottom:1px solid var(--rule)}
header div,main{max-width:1200px;margin:0 auto;padding:12px 16px}
main{padding-bottom:40px}
h1{font-size:1.45em;margin:0 0 .15em}
h2{font-size:1.15em;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--rule)}
h3{font-size:1em;margin:1em 0 .3em}
p{margin:.4em 0}
a{color:#1d5fa8}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em;overflow-wrap:anywhere}
.meta,.muted{color:var(--muted)}
.meta{overflow-wrap:anywhere}
.act{border:2px solid #2e6da4;background:#eef5fb;border-radius:6px;padding:10px 14px;margin:16px 0}
.act h2{margin:0 0 .4em;border:0;padding:0;color:#1d4f86}
.totals{margin:0 0 .6em;padding-left:1.2em;font-size:1.08em}
.totals li{margin:.3em 0}
.totals .muted{font-size:.85em}
.failures{border:2px solid #c62828;background:#fdecea;border-radius:6px;padding:10px 14px;margin:16px 0}
.failures h2{color:#b71c1c;border:0;margin:0 0 .4em;padding:0}
.failures h3{color:#8e1b1b}
.failures ul{margin:0;padding-left:1.2em}
.failures li{margin:.3em 0;overflow-wrap:anywhere}
.failures pre{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;background:#fff;border:1px solid #f1b3ad;border-radius:4px;padding:6px 8px;margin:.3em 0 .5em}
.allok{border:2px solid #2e7d32;background:#e8f5e9;color:#1b5e20;border-radius:6px;padding:10px 14px;margin:16px 0;font-weight:600}
.notes{border-left:4px solid #c9a227;background:#fdf8e6;padding:8px 12px 8px 30px;margin:0}
.notes li{margin:.2em 0;overflow-wrap:anywhere}
.summary{font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;font-size:.92em}
th,td{padding:5px 8px;border-bottom:1px solid var(--rule);text-align:left;vertical-align:top}
th{background:var(--band);font-size:.95em}
td{overflow-wrap:anywhere}
td.word{overflow-wrap:normal;word-break:normal;hyphens:none}
th.num{text-align:right}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.id{white-space:nowrap;font-weight:600}
tbody tr:nth-child(even){background:#f8f9f7}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85em;font-weight:600}
.ok{background:#e3f2e4;color:#1b5e20}
.up-to-date{background:#e6eef7;color:#1d4f86}
.reused{background:#e6eef7;color:#1d4f86}
.failed{background:#c62828;color:#fff}
.skipped{background:#fde9cc;color:#8a4b00}
.other-shard{background:#ececec;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,540px),1fr));gap:16px}
.rx{display:grid;grid-template-columns:1fr;gap:16px}
details.earlier{margin-top:12px}
details.earlier ul{columns:20em;font-size:.9em;overflow-wrap:anywhere}
figure{margin:0;border:1px solid var(--rule);border-radius:6px;padding:8px;background:#fff;min-width:0}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:.85em;color:var(--muted);margin-top:6px;overflow-wrap:anywhere}
.missing{color:#7a7a7a;font-size:.85em;font-style:italic;overflow-wrap:anywhere}
ul.files{list-style:none;margin:0;padding:0}
ul.files li{overflow-wrap:anywhere;margin:.1em 0}
.kind{color:var(--muted);font-size:.85em}
footer{margin-top:2em;padding-top:.6em;border-top:1px solid var(--rule);font-size:.9em;overflow-wrap:anywhere}
@media (max-width:600px){body{font-size:14px}header div,main{padding:10px}
.cards thead{display:none}
.cards,.cards tbody,.cards tr,.cards td{display:block;width:100%}
.cards tr{border:1px solid var(--rule);border-radius:6px;margin:0 0 10px;padding:4px 10px}
.cards tbody tr:nth-child(even){background:#fff}
.cards td{border:0;padding:3px 0;text-align:left;white-space:normal}
.cards td:empty{display:none}
.cards td[data-label]{display:grid;grid-template-columns:minmax(0,38%) minmax(0,1fr);gap:8px}
.cards td[data-label]::before{content:attr(data-label);font-size:.85em;font-weight:400;color:var(--muted)}
.cards td.id{font-size:1.1em}}
@media print{.grid{display:block}figure{break-inside:avoid;margin-bottom:12px}}
"#;

/// The report page for `report`, whose output paths are relative to `run_dir`; PNG quicklooks
/// (outputs of kind "quicklook") are read from there and embedded (base64 data URIs), so the page
/// is one self-contained file that needs no network, and the totals from the prescription's
/// `rx_report.json`. A quicklook that is missing, unreadable or not a PNG becomes a small grey
/// note instead; the page is always made.
pub fn render(report: &Report, run_dir: &Path) -> String {
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, report);
    out.push_str("<main>\n");
    let rx = rx_report(report, run_dir);
    let shown = act(&mut out, report, rx.as_ref(), run_dir);
    failures(&mut out, report);
    notes(&mut out, &report.notes[shown.min(report.notes.len())..]);
    // The nitrogen product, for the rates' unit in the language chosen.
    let product = rx.as_ref().and_then(|rx| rx.nitrogen.as_ref());
    plots(&mut out, report, product.map(|n| n.product.as_str()));
    quicklooks(&mut out, report, run_dir);
    units(&mut out, &report.units);
    inputs(&mut out, &report.inputs);
    footer(&mut out, report);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// Render the page and write it atomically to `path` (a temporary file beside it, renamed into
/// place): a reader never sees half a page.
pub fn write(report: &Report, run_dir: &Path, path: &Path) -> Result<()> {
    crate::io::write_atomic(path, render(report, run_dir).as_bytes())
}

fn head(out: &mut String, report: &Report) {
    let shard = report
        .shard
        .map(|[i, n]| {
            tf(
                "report.shard",
                &[("i", &i.to_string()), ("n", &n.to_string())],
            )
        })
        .unwrap_or_default();
    let title = tf(
        "report.title",
        &[("date", &report.run_date), ("shard", &shard)],
    );
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n",
        esc(i18n::current().code)
    ));
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!(
        "<title>{} · {}</title>\n",
        esc(&title),
        esc(&report.software)
    ));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n<header><div>\n");
    out.push_str(&format!("<h1>{}</h1>\n", esc(&title)));
    out.push_str(&format!(
        "<p class=\"meta\">{} · {} <code>{}</code></p>\n",
        esc(&report.software),
        esc(&t("report.run_file")),
        esc(&report.run_file)
    ));
    summary(out, report);
    out.push_str("</div></header>\n");
}

/// The prescription's report, read from the run folder (None when there is none or it does not
/// parse: the notes then carry the totals).
fn rx_report(report: &Report, run_dir: &Path) -> Option<RxReport> {
    report
        .units
        .iter()
        .filter(|u| u.kind == UnitKind::Prescribe)
        .flat_map(|u| &u.outputs)
        .filter(|o| o.kind == OutputKind::Report)
        .find_map(|o| {
            let bytes = std::fs::read(run_dir.join(&o.path)).ok()?;
            serde_json::from_slice(&bytes).ok()
        })
}

/// What a person acts on: the totals to order, the flights they rest on, and the prescription
/// maps. Returns how many of the report's notes it showed (the notes start with one line per
/// total: nitrogen, spray).
fn act(out: &mut String, report: &Report, rx: Option<&RxReport>, run_dir: &Path) -> usize {
    let maps = looks(report, |k| k == UnitKind::Prescribe);
    let dates = report.prescription_dates.as_ref();
    if rx.is_none() && maps.is_empty() {
        return 0;
    }
    out.push_str(&format!(
        "<section class=\"act\">\n<h2>{}</h2>\n",
        esc(&t("report.act"))
    ));
    let mut shown = 0;
    if let Some(rx) = rx {
        out.push_str("<ul class=\"totals\">\n");
        if let Some(n) = &rx.nitrogen {
            out.push_str(&format!(
                "<li><strong>{}</strong><br><span class=\"muted\">{}</span>{}</li>\n",
                esc(&tf(
                    "report.nitrogen_order",
                    &[
                        ("product_kg", &decimals_trimmed(n.product_kg, 2)),
                        ("product", &n.product),
                        ("n_kg", &decimals_trimmed(n.n_kg, 2)),
                    ]
                )),
                esc(&tf(
                    "report.nitrogen_reference",
                    &[("reference", &n.reference)]
                )),
                dates.map_or(String::new(), |d| flights(d, false, true))
            ));
            shown += 1;
        }
        if let Some(s) = &rx.spray {
            out.push_str(&format!(
                "<li><strong>{}</strong>{}</li>\n",
                esc(&tf(
                    "report.spray_order",
                    &[
                        ("zones", &s.zones.to_string()),
                        ("area", &grouped(&fixed(s.sprayed_area_m2, 0))),
                        ("litres", &decimals_trimmed(s.product_l, 2)),
                        ("product", &s.product),
                    ]
                )),
                dates.map_or(String::new(), |d| flights(d, true, shown == 0))
            ));
            shown += 1;
        }
        out.push_str("</ul>\n");
    }
    if !maps.is_empty() {
        out.push_str("<div class=\"rx\">\n");
        for (unit, path) in maps {
            figure(out, unit, path, run_dir);
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
    shown
}

/// The red box of failed units and the units skipped because of them, or a green line.
fn failures(out: &mut String, report: &Report) {
    let failed: Vec<&UnitReport> = with_status(&report.units, Status::Failed);
    let skipped: Vec<&UnitReport> = with_status(&report.units, Status::SkippedDependency);
    if failed.is_empty() && skipped.is_empty() {
        let here = report
            .units
            .iter()
            .filter(|u| u.status != Status::OtherShard)
            .count();
        if here == 0 {
            out.push_str(&format!(
                "<p class=\"allok\">{}</p>\n",
                esc(&t("report.no_units"))
            ));
            return;
        }
        let computed = with_status(&report.units, Status::Ok).len();
        let current = with_status(&report.units, Status::SkippedUpToDate).len();
        let reused = with_status(&report.units, Status::Reused).len();
        let line = tf(
            if reused == 0 {
                "report.all_ok"
            } else {
                "report.all_ok_reused"
            },
            &[
                ("n", &here.to_string()),
                ("computed", &computed.to_string()),
                ("current", &current.to_string()),
                ("reused", &reused.to_string()),
            ],
        );
        out.push_str(&format!("<p class=\"allok\">{}</p>\n", esc(&line)));
        return;
    }
    out.push_str("<section class=\"failures\">\n");
    let heading = if failed.is_empty() {
        tf("report.skipped", &[("n", &skipped.len().to_string())])
    } else {
        tf("report.failed", &[("n", &failed.len().to_string())])
    };
    out.push_str(&format!("<h2>✗ {}</h2>\n", esc(&heading)));
    if !failed.is_empty() {
        out.push_str("<ul>\n");
        for u in &failed {
            let no_error = t("report.no_error");
            out.push_str(&format!(
                "<li><strong>{}</strong> <span class=\"kind\">{}</span>\n<pre>{}</pre></li>\n",
                esc(&u.id),
                esc(u.kind.as_str()),
                esc(u.error.as_deref().unwrap_or(&no_error))
            ));
        }
        out.push_str("</ul>\n");
    }
    if !skipped.is_empty() {
        out.push_str(&format!(
            "<h3>{}</h3>\n<ul>\n",
            esc(&tf(
                "report.skipped_because",
                &[("n", &skipped.len().to_string())]
            ))
        ));
        for u in &skipped {
            let why = u
                .error
                .as_deref()
                .map(|e| format!(" — {}", esc(e)))
                .unwrap_or_default();
            out.push_str(&format!(
                "<li><strong>{}</strong> <span class=\"kind\">{}</span>{why}</li>\n",
                esc(&u.id),
                esc(u.kind.as_str())
            ));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// The flight a prescription's total rests on (with the earlier one its spray zones compare
/// with, for `spray`) and, `with_stages`, its stages' dates, as a line under the total.
fn flights(dates: &RxDates, spray: bool, with_stages: bool) -> String {
    let mut values = vec![
        ("source", dates.source.clone()),
        ("date", dates.flight_date.clone()),
        ("tile", dates.flight.clone()),
    ];
    let key = match (&dates.previous_flight_date, &dates.previous_flight, spray) {
        (Some(date), Some(tile), true) => {
            values.push(("previous_date", date.clone()));
            values.push(("previous", tile.clone()));
            "report.flights_compared"
        }
        _ => "report.flight",
    };
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut line = tf(key, &values);
    if with_stages {
        line = format!("{line} {}", stages_line(&dates.stage));
    }
    format!("<br><span class=\"muted dates\">{}</span>", esc(&line))
}

/// The day stages are given for and the last image they read, in a sentence.
fn stages_line(d: &StageDates) -> String {
    let from = match d.at_from.as_str() {
        "stage.at" => t("report.at_from_stage_at"),
        _ => t("report.at_from_last"),
    };
    let index = d.index.to_ascii_uppercase();
    let flight = d.at_from == "flight date";
    let key = match (flight, d.last_index_date.is_some()) {
        (false, true) => "report.stages_at",
        (false, false) => "report.stages_at_no_image",
        (true, true) => "report.stages_of_flight",
        (true, false) => "report.stages_of_flight_no_image",
    };
    tf(
        key,
        &[
            ("at", &d.at),
            ("from", &from),
            ("source", &d.source),
            ("index", &index),
            ("last", d.last_index_date.as_deref().unwrap_or_default()),
        ],
    )
}

fn notes(out: &mut String, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    out.push_str(&format!(
        "<section>\n<h2>{}</h2>\n<ul class=\"notes\">\n",
        esc(&t("report.notes"))
    ));
    for n in notes {
        out.push_str(&format!("<li>{}</li>\n", esc(n)));
    }
    out.push_str("</ul>\n</section>\n");
}

fn summary(out: &mut String, report: &Report) {
    let s = &report.summary;
    let part = |n: usize, key: &str| format!("<b>{n}</b> {}", esc(&t(key)));
    let mut parts = vec![
        part(s.ok, "report.summary_ok"),
        part(s.skipped_up_to_date, "report.summary_up_to_date"),
        part(s.failed, "report.summary_failed"),
    ];
    if s.reused > 0 {
        parts.insert(2, part(s.reused, "report.summary_reused"));
    }
    if s.skipped_dependency > 0 {
        parts.push(part(s.skipped_dependency, "report.summary_skipped"));
    }
    parts.push(part(s.outputs, "report.summary_outputs"));
    let took = duration(report.seconds);
    if !took.is_empty() {
        parts.push(esc(&took));
    }
    let span = time_span(&report.started, &report.finished);
    if !span.is_empty() {
        parts.push(esc(&span));
    }
    out.push_str(&format!("<p class=\"summary\">{}</p>\n", parts.join(" · ")));
}

/// A plot's nitrogen rate and sprayed area as the table shows them, in the units of the
/// language chosen (`product`: the nitrogen product, else the line's own unit): not observed
/// in words, never as a rate of 0.
fn rates(p: &PlotLine, product: Option<&str>) -> (String, String) {
    let unit = match product {
        Some(product) => tf("unit.product_per_ha", &[("product", product)]),
        None => p.n_unit.trim().to_string(),
    };
    let n_rate = match p.n_rate.map(|r| decimals_trimmed(r, 1)) {
        Some(r) if !r.is_empty() && !unit.is_empty() => {
            tf("report.n_rate", &[("rate", &r), ("unit", &unit)])
        }
        Some(r) => r,
        None => String::new(),
    };
    let not_observed = |status: &str, value: String| match status {
        "not observed" => t("report.not_observed"),
        "not observed (default rate)" => tf("report.not_observed_default", &[("value", &value)]),
        "stage unknown" => t("report.stage_unknown"),
        "stage unknown (default rate)" => tf("report.stage_unknown_default", &[("value", &value)]),
        _ => value,
    };
    let area = p
        .spray_area_m2
        .map(|a| {
            let a = grouped(&fixed(a, 0));
            if a.is_empty() {
                a
            } else {
                tf("report.area", &[("area", &a), ("unit", &t("unit.m2"))])
            }
        })
        .unwrap_or_default();
    (
        not_observed(&p.n_status, n_rate),
        not_observed(&p.spray_status, area),
    )
}

/// Plot rows the page shows at most. A county's 20 000 rows made a 19 MB page that takes a
/// browser seconds to open and nobody reads row by row; report.json and the stage and
/// prescription tables keep every plot.
const PLOTS_SHOWN: usize = 500;

/// Which plots a long list shows first: those given a rate or a sprayed area, then those the
/// flight observed, then the rest, each group in the run's order.
fn shown_first(plots: &[PlotLine]) -> Vec<&PlotLine> {
    let acted = |p: &PlotLine| {
        p.n_rate.is_some_and(|r| r > 0.0) || p.spray_area_m2.is_some_and(|a| a > 0.0)
    };
    let observed = |status: &str| !status.is_empty() && !status.starts_with("not observed");
    let rank = |p: &PlotLine| {
        if acted(p) {
            0
        } else if observed(&p.n_status) || observed(&p.spray_status) {
            1
        } else {
            2
        }
    };
    let mut order: Vec<(u8, usize)> = plots
        .iter()
        .enumerate()
        .map(|(i, p)| (rank(p), i))
        .collect();
    order.sort_unstable();
    order
        .into_iter()
        .take(PLOTS_SHOWN)
        .map(|(_, i)| &plots[i])
        .collect()
}

/// How many plots are at each stage, in the order of the season, as one line.
fn stage_counts(plots: &[PlotLine]) -> String {
    let mut counts: Vec<(usize, &str, usize)> = Vec::new();
    for p in plots {
        match counts.iter_mut().find(|c| c.1 == p.stage) {
            Some(c) => c.2 += 1,
            None => {
                let order = crate::phenology::stage::Stage::ALL
                    .iter()
                    .position(|s| s.name() == p.stage)
                    .unwrap_or(usize::MAX);
                counts.push((order, &p.stage, 1));
            }
        }
    }
    counts.sort_unstable();
    counts
        .iter()
        .map(|(_, stage, n)| format!("{} {}", i18n::stage_name(stage), grouped(&n.to_string())))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The plot table (`product`: the nitrogen product), after the dates its stages rest on.
fn plots(out: &mut String, report: &Report, product: Option<&str>) {
    let all = &report.plots;
    out.push_str(&format!(
        "<section>\n<h2>{}</h2>\n",
        esc(&tf("report.plots", &[("n", &all.len().to_string())]))
    ));
    if let Some(d) = &report.stage_dates {
        out.push_str(&format!(
            "<p class=\"dates\">{}</p>\n",
            esc(&stages_line(d))
        ));
    }
    if all.is_empty() {
        out.push_str(&format!(
            "<p class=\"muted\">{}</p>\n</section>\n",
            esc(&t("report.no_plots"))
        ));
        return;
    }
    let plots = shown_first(all);
    if plots.len() < all.len() {
        out.push_str(&format!(
            "<p>{}</p>\n<p>{}</p>\n",
            esc(&tf("report.by_stage", &[("stages", &stage_counts(all))])),
            esc(&tf(
                "report.plots_shown",
                &[
                    ("shown", &grouped(&plots.len().to_string())),
                    ("n", &grouped(&all.len().to_string())),
                ]
            ))
        ));
    }
    out.push_str(&format!(
        "<p class=\"muted\">{}</p>\n",
        esc(&t("report.confidence_note"))
    ));
    let cols = [
        ("report.col_plot", ""),
        ("report.col_stage", ""),
        ("report.col_dat", "num"),
        ("report.col_confidence", "num"),
        ("report.col_n_rate", "num"),
        ("report.col_n_reason", ""),
        ("report.col_spray_area", "num"),
        ("report.col_spray_reason", ""),
    ];
    let labels: Vec<String> = cols.iter().map(|(k, _)| esc(&t(k))).collect();
    out.push_str("<table class=\"plots cards\">\n<thead><tr>");
    for ((_, class), label) in cols.iter().zip(&labels) {
        match *class {
            "" => out.push_str(&format!("<th>{label}</th>")),
            c => out.push_str(&format!("<th class=\"{c}\">{label}</th>")),
        }
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for p in plots {
        let (n_rate, area) = rates(p, product);
        let cells = [
            ("id", esc(&p.plot_id)),
            ("word", esc(&i18n::stage_name(&p.stage))),
            (
                "num",
                esc(&p
                    .days_after_transplanting
                    .map(|d| fixed(d, 0))
                    .unwrap_or_default()),
            ),
            (
                "num",
                esc(&p.confidence.map(|c| fixed(c, 2)).unwrap_or_default()),
            ),
            ("num", esc(&n_rate)),
            ("", esc(&p.n_reason)),
            ("num", esc(&area)),
            ("", esc(&p.spray_reason)),
        ];
        out.push_str("<tr>");
        for (i, (class, text)) in cells.iter().enumerate() {
            let class = match *class {
                "" => String::new(),
                c => format!(" class=\"{c}\""),
            };
            let label = if i == 0 {
                String::new()
            } else {
                format!(" data-label=\"{}\"", labels[i])
            };
            out.push_str(&format!("<td{class}{label}>{text}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The PNG quicklooks of units of the kinds `keep` takes, with their unit.
fn looks(report: &Report, keep: impl Fn(UnitKind) -> bool) -> Vec<(&UnitReport, &str)> {
    report
        .units
        .iter()
        .filter(|u| keep(u.kind))
        .flat_map(|u| {
            u.outputs
                .iter()
                .filter(|o| o.kind == OutputKind::Quicklook)
                .map(move |o| (u, o.path.as_str()))
        })
        .collect()
}

/// One quicklook as a figure: the embedded PNG linking to the file, or a grey note; maps drawn
/// with a legend say how tall its text is in the picture (`data-legend-px`).
fn figure(out: &mut String, unit: &UnitReport, path: &str, run_dir: &Path) {
    let name = file_name(path);
    let caption = format!(
        "<figcaption><a href=\"{}\">{}</a> · {}</figcaption>",
        href(path),
        esc(path),
        esc(&unit.id)
    );
    out.push_str("<figure>");
    let legend = match unit.kind {
        UnitKind::Index | UnitKind::Prescribe => format!(" data-legend-px=\"{LEGEND_TEXT_PX}\""),
        _ => String::new(),
    };
    match embed(&run_dir.join(path)) {
        Ok(Png {
            data_uri,
            width,
            height,
        }) => out.push_str(&format!(
            "<a href=\"{}\"><img src=\"{data_uri}\" width=\"{width}\" height=\"{height}\" alt=\"{}\"{legend}></a>",
            href(path),
            esc(name)
        )),
        Err(problem) => out.push_str(&format!(
            "<p class=\"missing\">{}</p>",
            esc(&tf(
                "report.quicklook_missing",
                &[("problem", problem), ("path", path)]
            ))
        )),
    }
    out.push_str(&caption);
    out.push_str("</figure>\n");
}

/// The maps: embedded for the units this run computed and for the stage (tonight's news and
/// the season's state); the maps of units kept from earlier runs as links only, so that a
/// night's page of a county's season stays a few megabytes instead of carrying every date's
/// maps again (62 index maps made the page 44 MB).
fn quicklooks(out: &mut String, report: &Report, run_dir: &Path) {
    let maps = looks(report, |k| k != UnitKind::Prescribe);
    if maps.is_empty() {
        return;
    }
    let (shown, earlier): (Vec<_>, Vec<_>) = maps
        .into_iter()
        .partition(|(u, _)| !u.status.earlier() || u.kind == UnitKind::Stage);
    out.push_str(&format!(
        "<section>\n<h2>{}</h2>\n",
        esc(&t("report.quicklooks"))
    ));
    if !shown.is_empty() {
        out.push_str("<div class=\"grid\">\n");
        for (unit, path) in shown {
            figure(out, unit, path, run_dir);
        }
        out.push_str("</div>\n");
    }
    if !earlier.is_empty() {
        out.push_str(&format!(
            "<details class=\"earlier\">\n<summary>{}</summary>\n<ul>\n",
            esc(&tf(
                "report.quicklooks_earlier",
                &[("n", &earlier.len().to_string())]
            ))
        ));
        for (unit, path) in earlier {
            out.push_str(&format!(
                "<li><a href=\"{}\">{}</a> · {}</li>\n",
                href(path),
                esc(path),
                esc(&unit.id)
            ));
        }
        out.push_str("</ul>\n</details>\n");
    }
    out.push_str("</section>\n");
}

fn units(out: &mut String, units: &[UnitReport]) {
    out.push_str(&format!(
        "<section>\n<h2>{}</h2>\n",
        esc(&tf("report.units", &[("n", &units.len().to_string())]))
    ));
    if units.is_empty() {
        out.push_str(&format!(
            "<p class=\"muted\">{}</p>\n</section>\n",
            esc(&t("report.no_units_table"))
        ));
        return;
    }
    let head = [
        "report.col_unit",
        "report.col_kind",
        "report.col_status",
        "report.col_seconds",
        "report.col_outputs",
    ]
    .map(|k| esc(&t(k)));
    out.push_str(&format!(
        "<table class=\"units cards\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th class=\"num\">{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        head[0], head[1], head[2], head[3], head[4]
    ));
    for u in units {
        let (class, label) = badge(u.status);
        let files = if u.outputs.is_empty() {
            String::new()
        } else {
            let items: Vec<String> = u
                .outputs
                .iter()
                .map(|o| {
                    format!(
                        "<li><a href=\"{}\">{}</a> <span class=\"kind\">{}</span></li>",
                        href(&o.path),
                        esc(&o.path),
                        esc(o.kind.as_str())
                    )
                })
                .collect();
            format!("<ul class=\"files\">{}</ul>", items.concat())
        };
        out.push_str(&format!(
            "<tr><td class=\"id\">{}</td><td data-label=\"{}\">{}</td><td data-label=\"{}\"><span class=\"badge {class}\">{}</span></td><td class=\"num\" data-label=\"{}\">{}</td><td data-label=\"{}\">{files}</td></tr>\n",
            esc(&u.id),
            head[1],
            esc(u.kind.as_str()),
            head[2],
            esc(&label),
            head[3],
            esc(&fixed(u.seconds, 1)),
            head[4],
        ));
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn inputs(out: &mut String, inputs: &[String]) {
    out.push_str(&format!(
        "<section>\n<h2>{}</h2>\n",
        esc(&tf("report.inputs", &[("n", &inputs.len().to_string())]))
    ));
    if inputs.is_empty() {
        out.push_str(&format!(
            "<p class=\"muted\">{}</p>\n</section>\n",
            esc(&t("report.no_inputs"))
        ));
        return;
    }
    let open = if inputs.len() <= INPUTS_OPEN {
        " open"
    } else {
        ""
    };
    out.push_str(&format!(
        "<details{open}><summary>{}</summary>\n<ul class=\"files\">\n",
        esc(&tf("report.files", &[("n", &inputs.len().to_string())]))
    ));
    for i in inputs {
        out.push_str(&format!("<li><code>{}</code></li>\n", esc(i)));
    }
    out.push_str("</ul>\n</details>\n</section>\n");
}

fn footer(out: &mut String, report: &Report) {
    out.push_str(&format!(
        "<footer>\n<p>{} <code>{}</code></p>\n<p class=\"muted\">{}</p>\n</footer>\n",
        esc(&t("report.config_hash")),
        esc(&report.config_hash),
        esc(&tf(
            "report.made_by",
            &[("software", &report.software), ("file", &report.run_file)]
        ))
    ));
}

/// An embedded PNG.
struct Png {
    data_uri: String,
    width: u32,
    height: u32,
}

/// Read the PNG at `path` as a data URI with its size from the IHDR chunk; the error is the word
/// for the grey note ("missing", "unreadable", "not a PNG", …).
fn embed(path: &Path) -> std::result::Result<Png, &'static str> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "missing",
        _ => "unreadable",
    })?;
    if !meta.is_file() {
        return Err("missing");
    }
    if meta.len() > MAX_EMBED_BYTES {
        return Err("too large to embed");
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "missing",
        _ => "unreadable",
    })?;
    // Signature, then the IHDR chunk: length (4), "IHDR", width (4), height (4), big-endian.
    let size = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
    };
    let (width, height) = match (bytes.get(..8), bytes.get(12..16), size(16), size(20)) {
        (Some(sig), Some(b"IHDR"), Some(w), Some(h)) if sig == PNG_SIGNATURE && w > 0 && h > 0 => {
            (w, h)
        }
        _ => return Err("not a PNG"),
    };
    let data_uri = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    Ok(Png {
        data_uri,
        width,
        height,
    })
}

fn with_status(units: &[UnitReport], status: Status) -> Vec<&UnitReport> {
    units.iter().filter(|u| u.status == status).collect()
}

/// CSS class and label of a status badge.
fn badge(status: Status) -> (&'static str, String) {
    let (class, key) = match status {
        Status::Ok => ("ok", "report.status_ok"),
        Status::SkippedUpToDate => ("up-to-date", "report.status_up_to_date"),
        Status::Reused => ("reused", "report.status_reused"),
        Status::Failed => ("failed", "report.status_failed"),
        Status::SkippedDependency => ("skipped", "report.status_skipped"),
        Status::OtherShard => ("other-shard", "report.status_other_shard"),
        Status::Interrupted => ("failed", "report.status_interrupted"),
    };
    (class, t(key))
}

/// Text for HTML content and attribute values: `&`, `<`, `>`, `"` and `'` escaped; control
/// characters other than tab and line breaks (which HTML does not allow) dropped.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A relative link to an output: the path's bytes percent-encoded except unreserved characters
/// and `/` (so `:`, `#`, `?` and spaces cannot turn it into a scheme, a fragment or a query);
/// leading slashes collapse to one, so a path never reads as a network (`//host`) reference.
fn href(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    if out.starts_with("//") {
        let rest = out.trim_start_matches('/');
        out = format!("/{rest}");
    }
    out
}

/// The last component of a `/`- or `\`-separated path.
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or(path)
}

/// `value` with `decimals` decimals; empty for NaN and infinities; no "-0".
fn fixed(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return String::new();
    }
    let s = format!("{value:.decimals$}");
    match s.strip_prefix('-') {
        Some(magnitude) if magnitude.chars().all(|c| c == '0' || c == '.') => magnitude.to_string(),
        _ => s,
    }
}

/// [`fixed`] without trailing zeros after the decimal point (`120`, `112.5`).
fn decimals_trimmed(value: f64, decimals: usize) -> String {
    let s = fixed(value, decimals);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An integer's digits in groups of three separated by thin spaces (`12 345`).
fn grouped(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    if digits.len() <= 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{sign}{digits}");
    }
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

/// A run's length for a person: `42.3 s`, `12 min 05 s`, `2 h 05 min`; empty when unknown.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return String::new();
    }
    if seconds < 60.0 {
        return tf("unit.seconds", &[("n", &format!("{seconds:.1}"))]);
    }
    let whole = seconds.round() as u64;
    let two = |n: u64| format!("{n:02}");
    if whole < 3600 {
        tf(
            "unit.minutes",
            &[("m", &(whole / 60).to_string()), ("s", &two(whole % 60))],
        )
    } else {
        tf(
            "unit.hours",
            &[
                ("h", &(whole / 3600).to_string()),
                ("m", &two(whole % 3600 / 60)),
            ],
        )
    }
}

/// `started – finished` with RFC 3339 UTC times shown as `2026-06-07 02:00:03`; the finish's
/// date is left out when it is the start's, and `UTC` is said once at the end.
fn time_span(started: &str, finished: &str) -> String {
    match (utc(started), utc(finished)) {
        (Some((d0, t0)), Some((d1, t1))) if d0 == d1 => format!("{d0} {t0} – {t1} UTC"),
        (Some((d0, t0)), Some((d1, t1))) => format!("{d0} {t0} – {d1} {t1} UTC"),
        _ if started.is_empty() && finished.is_empty() => String::new(),
        _ => format!("{started} – {finished}"),
    }
}

/// Date and time (to the second) of an RFC 3339 UTC time (`…Z` or `…+00:00`), or None.
fn utc(time: &str) -> Option<(&str, &str)> {
    let is_utc = time.ends_with('Z') || time.ends_with("+00:00");
    let date = time.get(..10)?;
    let clock = time.get(11..19)?;
    let shaped = time
        .as_bytes()
        .get(10)
        .is_some_and(|b| *b == b'T' || *b == b' ')
        && date.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && clock.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    (is_utc && shaped).then_some((date, clock))
}

#[cfg(test)]
mod tests {
    use super::super::report::{OutputFile, Summary};
    use super::*;

    fn unit(id: &str, kind: &str, status: Status, outputs: &[(&str, &str)]) -> UnitReport {
        UnitReport {
            id: id.to_string(),
            kind: serde_json::from_value(serde_json::json!(kind)).unwrap(),
            status,
            key: "k".repeat(8),
            seconds: 1.25,
            inputs: vec![],
            outputs: outputs
                .iter()
                .map(|(p, k)| OutputFile {
                    path: p.to_string(),
                    kind: serde_json::from_value(serde_json::json!(k)).unwrap(),
                })
                .collect(),
            error: None,
            reused_from: None,
        }
    }

    fn plot(id: &str, rate: Option<f64>, area: Option<f64>) -> PlotLine {
        PlotLine {
            plot_id: id.to_string(),
            stage: "tillering".to_string(),
            days_after_transplanting: Some(31.6),
            confidence: Some(0.8234),
            n_rate: rate,
            n_unit: "kg urea/ha".to_string(),
            n_reason: "NDRE 12 % below the N-rich strip".to_string(),
            n_status: if rate.is_some() {
                "prescribed".to_string()
            } else {
                "not observed".to_string()
            },
            spray_area_m2: area,
            spray_reason: String::new(),
            spray_status: String::new(),
        }
    }

    fn sample() -> Report {
        let mut failed = unit("stats:2026-06-07", "stats", Status::Failed, &[]);
        failed.error = Some("plots.gpkg: bad geometry <script>alert('x')</script> & more".into());
        let mut skipped = unit("stage", "stage", Status::SkippedDependency, &[]);
        skipped.error = Some("needs stats:2026-06-07, which failed".into());
        let mut report = Report {
            software: "paddy 0.1.0".into(),
            run_file: "nightly.toml".into(),
            config_hash: "ab12".repeat(16),
            run_date: "2026-06-07".into(),
            started: "2026-06-07T02:00:00Z".into(),
            finished: "2026-06-07T02:03:05.250Z".into(),
            seconds: 185.25,
            shard: None,
            inputs: vec!["/data/drone/flight 1.tif".into()],
            units: vec![
                unit(
                    "index:s2_20260607",
                    "index",
                    Status::Ok,
                    &[
                        ("index/s2 20260607/NDVI.tif", "index"),
                        ("index/s2 20260607/NDVI.png", "quicklook"),
                    ],
                ),
                unit(
                    "prescribe:drone",
                    "prescribe",
                    Status::Ok,
                    &[
                        ("rx/rx_nitrogen.gpkg", "rx_nitrogen"),
                        ("rx/missing.png", "quicklook"),
                    ],
                ),
                failed,
                skipped,
            ],
            plots: vec![
                plot("P-01 \"north\" & 'east'", Some(112.5), Some(12345.4)),
                plot("P-02", None, None),
            ],
            notes: vec!["Order 250 kg urea in total".into()],
            stage_dates: None,
            prescription_dates: None,
            summary: Summary::default(),
        };
        report.recount();
        report
    }

    /// A run folder with the first quicklook written as a real 3 × 2 PNG.
    fn run_dir() -> (tempfile::TempDir, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("index/s2 20260607/NDVI.png");
        std::fs::create_dir_all(png.parent().unwrap()).unwrap();
        let img =
            image::RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8 * 80, y as u8 * 90, 7]));
        img.save(&png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        (dir, bytes)
    }

    /// Every `name="…"` attribute value in `html`.
    fn attrs<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
        let needle = format!(" {name}=\"");
        html.match_indices(&needle)
            .map(|(at, _)| {
                let rest = &html[at + needle.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect()
    }

    /// Tags nest and close (void elements aside), and every `&` starts an entity: a small
    /// well-formedness check of the markup this module writes.
    fn assert_well_formed(html: &str) {
        const VOID: [&str; 4] = ["meta", "img", "br", "hr"];
        let mut open: Vec<&str> = vec![];
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            let end = rest[at..].find('>').unwrap() + at;
            let tag = &rest[at + 1..end];
            rest = &rest[end + 1..];
            assert!(!tag.contains('<'), "unescaped < in {tag}");
            if tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name), "closing {name}");
            } else {
                let name = tag.split([' ', '\n']).next().unwrap();
                if name == "style" {
                    rest = &rest[rest.find("</style>").unwrap()..];
                }
                if !VOID.contains(&name) {
                    open.push(name);
                }
            }
        }
        assert!(open.is_empty(), "unclosed {open:?}");
        for (at, _) in html.match_indices('&') {
            let entity = &html[at..html.len().min(at + 8)];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & at {entity}"
            );
        }
    }

    #[test]
    fn what_to_act_on_then_failures_come_first_and_the_error_is_escaped() {
        let (dir, _) = run_dir();
        let html = render(&sample(), dir.path());
        let summary = html.find("<p class=\"summary\">").unwrap();
        let act = html.find("<section class=\"act\">").unwrap();
        let rx_map = html.find("rx/missing.png").unwrap();
        let failures = html.find("<section class=\"failures\">").unwrap();
        let notes = html.find("<h2>Notes</h2>").unwrap();
        let plots = html.find("<table class=\"plots cards\">").unwrap();
        let looks = html.find("<h2>Maps</h2>").unwrap();
        let units = html.find("<table class=\"units cards\">").unwrap();
        let inputs = html.find("<h2>Inputs (1)</h2>").unwrap();
        let hash = html.find("Config hash").unwrap();
        assert!(summary < act && act < rx_map && rx_map < failures);
        assert!(failures < notes && notes < plots && plots < looks);
        assert!(looks < units && units < inputs && inputs < hash);

        assert!(!html.contains("<script"));
        assert!(html
            .contains("bad geometry &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
        let failed_box = &html[failures..html[failures..].find("</section>").unwrap() + failures];
        assert!(failed_box.contains("1 unit(s) failed"));
        assert!(failed_box.contains("<strong>stats:2026-06-07</strong>"));
        assert!(failed_box.contains("Not run because a unit they need failed (1)"));
        assert!(failed_box.contains("<strong>stage</strong>"));
        assert!(!failed_box.contains("index:s2_20260607"));
        assert!(!html.contains("<p class=\"allok\">"));
        assert!(html.contains("P-01 &quot;north&quot; &amp; &#39;east&#39;"));
        assert_well_formed(&html);
    }

    #[test]
    fn quicklook_is_embedded_and_a_missing_one_is_a_note() {
        let (dir, bytes) = run_dir();
        let html = render(&sample(), dir.path());
        let srcs = attrs(&html, "src");
        assert_eq!(srcs.len(), 1, "one embedded image");
        let b64 = srcs[0].strip_prefix("data:image/png;base64,").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(decoded, bytes);
        assert!(html.contains("width=\"3\" height=\"2\" alt=\"NDVI.png\""));
        assert!(html.contains("<p class=\"missing\">(quicklook missing: rx/missing.png)</p>"));
        assert!(html.contains("index/s2 20260607/NDVI.png</a> · index:s2_20260607"));

        // Not a PNG, and a folder where the file should be: notes, not a failed page.
        std::fs::create_dir_all(dir.path().join("rx")).unwrap();
        std::fs::write(dir.path().join("rx/missing.png"), b"GIF89a").unwrap();
        let html = render(&sample(), dir.path());
        assert!(html.contains("(quicklook not a PNG: rx/missing.png)"));
        std::fs::remove_file(dir.path().join("rx/missing.png")).unwrap();
        std::fs::create_dir(dir.path().join("rx/missing.png")).unwrap();
        let html = render(&sample(), dir.path());
        assert!(html.contains("(quicklook missing: rx/missing.png)"));
    }

    #[test]
    fn maps_kept_from_earlier_runs_are_links_and_tonights_are_embedded() {
        let (dir, bytes) = run_dir();
        let mut report = sample();
        // The same map as up to date from an earlier run, and a stage map kept as well.
        let mut earlier = report.units[0].clone();
        earlier.id = "index:s2_20260601".into();
        earlier.status = Status::SkippedUpToDate;
        let stage = unit(
            "stage:plots",
            "stage",
            Status::SkippedUpToDate,
            &[("index/s2 20260607/NDVI.png", "quicklook")],
        );
        report.units.extend([earlier, stage]);
        let html = render(&report, dir.path());
        // Tonight's index map and the stage's are embedded; the earlier one is a link.
        let srcs = attrs(&html, "src");
        assert_eq!(srcs.len(), 2, "{srcs:?}");
        for src in srcs {
            let b64 = src.strip_prefix("data:image/png;base64,").unwrap();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            assert_eq!(decoded, bytes);
        }
        let details = &html[html.find("<details class=\"earlier\">").expect("a list")..];
        assert!(
            details.contains("Maps kept from earlier runs (1)"),
            "{details}"
        );
        assert!(details.contains(
            "<li><a href=\"index/s2%2020260607/NDVI.png\">index/s2 20260607/NDVI.png</a> · index:s2_20260601</li>"
        ));
        assert_well_formed(&html);
        // Without earlier units there is no list.
        assert!(!render(&sample(), dir.path()).contains("<details class=\"earlier\""));
    }

    #[test]
    fn links_are_relative_and_nothing_comes_from_the_network() {
        let (dir, _) = run_dir();
        let html = render(&sample(), dir.path());
        let hrefs = attrs(&html, "href");
        assert!(hrefs.contains(&"index/s2%2020260607/NDVI.tif"), "{hrefs:?}");
        assert!(hrefs.contains(&"rx/rx_nitrogen.gpkg"));
        // Four outputs in the units table, two links per quicklook figure (one has no image).
        assert_eq!(hrefs.len(), 4 + 3);
        for h in &hrefs {
            assert!(
                !h.starts_with('/') && !h.contains(':') && !h.contains(' '),
                "{h}"
            );
        }
        for bad in ["http://", "https://", "url(", "@import", "<script", "<link"] {
            assert!(!html.contains(bad), "{bad}");
        }
        assert_eq!(href("//host/x y#1?.png"), "/host/x%20y%231%3F.png");
        assert_eq!(href("C:\\rx\\a.png"), "C%3A%5Crx%5Ca.png");
        assert_eq!(href("dé.tif"), "d%C3%A9.tif");
    }

    #[test]
    fn plot_table_rounds_and_says_not_observed() {
        let (dir, _) = run_dir();
        let html = render(&sample(), dir.path());
        assert!(html.contains(concat!(
            "<td class=\"num\" data-label=\"Days after transplanting\">32</td>",
            "<td class=\"num\" data-label=\"Confidence\">0.82</td>",
            "<td class=\"num\" data-label=\"N rate\">112.5 kg urea/ha</td>"
        )));
        assert!(
            html.contains("<td class=\"num\" data-label=\"Sprayed area\">12\u{2009}345 m²</td>")
        );
        assert!(html.contains(concat!(
            "<td class=\"id\">P-02</td><td class=\"word\" data-label=\"Stage\">tillering</td>",
            "<td class=\"num\" data-label=\"Days after transplanting\">32</td>",
            "<td class=\"num\" data-label=\"Confidence\">0.82</td>",
            "<td class=\"num\" data-label=\"N rate\">not observed</td>"
        )));
        // No prescription at all: empty cells, not "not observed".
        let mut report = sample();
        for p in &mut report.plots {
            p.n_status.clear();
        }
        let html = render(&report, dir.path());
        assert!(html.contains(concat!(
            "<td class=\"num\" data-label=\"Confidence\">0.82</td>",
            "<td class=\"num\" data-label=\"N rate\"></td>"
        )));
        assert!(!html.contains("not observed"));
        assert!(html.contains("<b>2</b> ok · <b>0</b> up to date · <b>1</b> failed"));
        assert!(html.contains("3 min 05 s · 2026-06-07 02:00:00 – 02:03:05 UTC"));
        assert!(html.contains("<span class=\"badge failed\">failed</span>"));
        assert!(html.contains("<span class=\"badge skipped\">skipped: dependency failed</span>"));
    }

    /// A county's plots: the page shows PLOTS_SHOWN rows, those acted on first, then those
    /// the flight observed, and counts every plot by stage.
    #[test]
    fn a_long_plot_list_shows_what_to_act_on_first_and_counts_the_rest() {
        let (dir, _) = run_dir();
        let mut report = sample();
        let n = PLOTS_SHOWN + 100;
        report.plots = (0..n)
            .map(|i| {
                let id = format!("Q{i:04}");
                let mut p = match i {
                    590 => plot(&id, Some(80.0), None),
                    10 | 595 => plot(&id, None, Some(250.0)),
                    _ => plot(&id, None, None),
                };
                if i == 597 {
                    p.n_status = "prescribed".into();
                    p.n_rate = Some(0.0);
                }
                if i % 3 == 0 {
                    p.stage = "booting".into();
                }
                p
            })
            .collect();
        let html = render(&report, dir.path());
        let rows = |h: &str| h.matches("<td class=\"id\">Q").count();
        assert_eq!(rows(&html), PLOTS_SHOWN);
        let at = |id: &str| html.find(&format!("<td class=\"id\">{id}</td>"));
        // Acted on (in the run's order), then observed, then the rest from the start.
        let order: Vec<usize> = ["Q0010", "Q0590", "Q0595", "Q0597", "Q0000", "Q0001"]
            .iter()
            .map(|id| at(id).unwrap_or_else(|| panic!("{id} not shown")))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert!(at(&format!("Q{:04}", PLOTS_SHOWN + 3)).is_none());
        assert!(html.contains("Showing 500 of 600 plots"));
        assert!(html.contains("By stage: tillering 400 · booting 200"));
        // A list that fits is shown whole, without the note.
        report.plots.truncate(PLOTS_SHOWN);
        let html = render(&report, dir.path());
        assert_eq!(rows(&html), PLOTS_SHOWN);
        assert!(!html.contains("Showing"));
    }

    fn stage_dates(at: &str, at_from: &str, last: Option<&str>) -> StageDates {
        StageDates {
            at: at.into(),
            at_from: at_from.into(),
            source: "s2".into(),
            index: "ndvi".into(),
            last_index_date: last.map(String::from),
        }
    }

    #[test]
    fn the_dates_the_stages_and_rates_rest_on_are_said() {
        let (dir, _) = run_dir();
        let mut report = sample();
        report.stage_dates = Some(stage_dates("2026-07-18", "stage.at", Some("2026-07-17")));
        let html = render(&report, dir.path());
        assert!(html.contains(
            "<p class=\"dates\">Stages for 2026-07-18 (the run file&#39;s [stage] at), read off \
             s2 NDVI images up to 2026-07-17.</p>"
        ));
        // Without [stage] at, the series' last image; none that early, said so.
        let line = stages_line(&stage_dates(
            "2026-09-05",
            "last index date",
            Some("2026-09-05"),
        ));
        assert!(
            line.contains("2026-09-05 (the last image of the series)"),
            "{line}"
        );
        let line = stages_line(&stage_dates("2026-05-01", "stage.at", None));
        assert!(
            line.contains("no s2 NDVI image on or before that day"),
            "{line}"
        );
        // A prescription: its flight, the earlier one for spray, the stages of the flight's day.
        let mut dates = RxDates {
            source: "drone".into(),
            flight_date: "2026-07-18".into(),
            flight: "drone_20260718".into(),
            previous_flight_date: Some("2026-06-26".into()),
            previous_flight: Some("drone_20260626".into()),
            stage: stage_dates("2026-07-18", "flight date", Some("2026-07-17")),
        };
        let nitrogen = flights(&dates, false, true);
        assert!(nitrogen.contains("From the drone flight of 2026-07-18 (drone_20260718)."));
        assert!(!nitrogen.contains("2026-06-26"), "{nitrogen}");
        assert!(nitrogen.contains(
            "Stages for the flight&#39;s day, read off s2 NDVI images up to 2026-07-17."
        ));
        let spray = flights(&dates, true, false);
        assert!(spray.contains(
            "From the drone flight of 2026-07-18 (drone_20260718), compared with the flight of \
             2026-06-26 (drone_20260626)."
        ));
        assert!(!spray.contains("Stages"), "{spray}");
        dates.previous_flight_date = None;
        dates.previous_flight = None;
        assert!(!flights(&dates, true, false).contains("compared"));
    }

    #[test]
    fn all_ok_is_a_green_line() {
        let mut report = sample();
        report.units.truncate(2);
        report
            .units
            .push(unit("index:other", "index", Status::OtherShard, &[]));
        report.units[1].status = Status::SkippedUpToDate;
        report.shard = Some([1, 4]);
        report.recount();
        let html = render(&report, Path::new("/nonexistent"));
        assert!(html.contains("<p class=\"allok\">✓ All 2 units ok (1 computed, 1 up to date)</p>"));
        assert!(!html.contains("<section class=\"failures\">"));
        assert!(html.contains("<h1>Run 2026-06-07 · shard 1/4</h1>"));
        assert!(html.contains("(quicklook missing: index/s2 20260607/NDVI.png)"));
        assert_well_formed(&html);
    }

    #[test]
    fn write_is_atomic_and_leaves_no_temp_file() {
        let (dir, _) = run_dir();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("report.html");
        write(&sample(), dir.path(), &path).unwrap();
        write(&sample(), dir.path(), &path).unwrap();
        let names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["report.html"]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            render(&sample(), dir.path())
        );
        let missing = out.path().join("no/such/folder/report.html");
        assert!(write(&sample(), dir.path(), &missing).is_err());
    }

    #[test]
    fn numbers_and_times_for_people() {
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(f64::NAN, 1), "");
        assert_eq!(decimals_trimmed(120.0, 1), "120");
        assert_eq!(decimals_trimmed(112.46, 1), "112.5");
        assert_eq!(grouped("1234"), "1234");
        assert_eq!(grouped("1234567"), "1\u{2009}234\u{2009}567");
        assert_eq!(grouped("-12345"), "-12\u{2009}345");
        assert_eq!(duration(42.34), "42.3 s");
        assert_eq!(duration(7500.0), "2 h 05 min");
        assert_eq!(duration(f64::NAN), "");
        assert_eq!(
            time_span("2026-06-07T23:59:00Z", "2026-06-08T00:01:00+00:00"),
            "2026-06-07 23:59:00 – 2026-06-08 00:01:00 UTC"
        );
        assert_eq!(time_span("yesterday", "today"), "yesterday – today");
        assert_eq!(
            time_span("2026-06-07T02:00:00+02:00", "x"),
            "2026-06-07T02:00:00+02:00 – x"
        );
        assert_eq!(utc("2026-06-07T02:0é:00Z"), None);
        assert_eq!(esc("a\u{0}b\tc"), "ab\tc");
        assert_eq!(file_name("a/b/c.png"), "c.png");
        assert_eq!(file_name("c.png"), "c.png");
    }
}
