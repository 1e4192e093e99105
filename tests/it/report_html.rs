//! report.html as people see it: the sample run's page laid out by headless Chromium (Debian's
//! `chromium`, which scripts/setup installs) at 390 px (a phone) and 1366 px (a laptop).
//!
//! The page has no script, so the measuring is done from outside it: a page made here holds the
//! report in an iframe of the width under test (the report's media queries see that width) and
//! a script that, once it has loaded, measures it (same origin under
//! `--allow-file-access-from-files`) and writes the figures into its own DOM, which
//! `chromium --headless --dump-dom` prints. Checked: nothing wider than the page or scrolling
//! sideways, every image decoded, the map legends' text at least 11 px tall at 1366 px (the
//! picture's scale times its legend text height, `data-legend-px`), the plot table as cards on
//! the phone. Where chromium is absent the test says SKIPPED and checks only what needs no
//! browser.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::styles::sample_run;

/// The measuring page: `report` in an iframe `width` px wide.
fn probe(report: &Path, width: u32) -> String {
    let src = format!("file://{}", report.display());
    format!(
        r#"<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="{src}" style="width:{width}px;height:900px;border:0"></iframe>
<pre id="out">pending</pre>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var d = this.contentDocument, w = this.contentWindow, r = [];
  var root = d.documentElement;
  r.push('page ' + root.scrollWidth + ' ' + root.clientWidth);
  d.querySelectorAll('body *').forEach(function (e) {{
    var cs = w.getComputedStyle(e), b = e.getBoundingClientRect();
    if (e.scrollWidth > e.clientWidth + 1 && /(auto|scroll)/.test(cs.overflowX))
      r.push('scrolls ' + e.tagName + '.' + e.className);
    if (b.width > 0 && b.right > root.clientWidth + 0.5)
      r.push('beyond ' + e.tagName + '.' + e.className + ' ' + Math.round(b.right));
  }});
  d.querySelectorAll('img').forEach(function (i) {{
    r.push('img ' + (i.complete && i.naturalWidth > 0) + ' ' + i.naturalWidth + ' ' +
      i.getBoundingClientRect().width + ' ' + (i.getAttribute('data-legend-px') || '0'));
  }});
  var head = d.querySelector('table.plots thead');
  if (head) r.push('plots-head ' + w.getComputedStyle(head).display);
  document.getElementById('out').textContent = r.join('\n');
}});
</script></body></html>"#
    )
}

/// The measurements of `report` at `width`, or None without chromium.
fn measure(report: &Path, width: u32, dir: &Path) -> Option<Vec<String>> {
    let page = dir.join(format!("probe{width}.html"));
    std::fs::write(&page, probe(report, width)).unwrap();
    let out = Command::new("timeout")
        .arg("120")
        .arg("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--virtual-time-budget=15000",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .ok()?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"out\">")? + "<pre id=\"out\">".len();
    let end = dom[start..].find("</pre>")? + start;
    let lines: Vec<String> = dom[start..end].lines().map(str::to_string).collect();
    assert_ne!(lines, ["pending"], "the report did not load in chromium");
    Some(lines)
}

fn chromium() -> bool {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED: chromium is not installed (scripts/setup installs it); layout not checked"
        );
    }
    found
}

/// Checks at 390 px: nothing beyond the page or scrolling sideways, images decoded, cards.
fn phone(lines: &[String]) {
    let page: Vec<f64> = lines[0]
        .strip_prefix("page ")
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        page[0] <= page[1],
        "the page is {} px wide in {} px",
        page[0],
        page[1]
    );
    let sideways: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("scrolls") || l.starts_with("beyond"))
        .collect();
    assert!(sideways.is_empty(), "sideways at 390 px: {sideways:?}");
    assert!(
        lines.iter().any(|l| l == "plots-head none"),
        "no cards: {lines:?}"
    );
    images(lines);
}

/// Every image decoded; returns (natural width, shown width, legend text px) of each.
fn images(lines: &[String]) -> Vec<(f64, f64, f64)> {
    let imgs: Vec<(f64, f64, f64)> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("img "))
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f[0], "true", "an image did not decode: {l}");
            (
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    assert!(!imgs.is_empty());
    imgs
}

/// Every link of the page opens a file of the run folder.
fn links_resolve(html: &str, dir: &Path) {
    let mut n = 0;
    for (at, _) in html.match_indices(" href=\"") {
        let rest = &html[at + 7..];
        let href = &rest[..rest.find('"').unwrap()];
        assert!(!href.contains("://"), "{href}");
        let bytes = href.as_bytes();
        let mut path = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                path.push(u8::from_str_radix(&href[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                path.push(bytes[i]);
                i += 1;
            }
        }
        let p: PathBuf = dir.join(String::from_utf8(path).unwrap());
        assert!(p.is_file(), "link {href} opens nothing");
        n += 1;
    }
    assert!(n > 50, "{n} links");
}

/// What the sample run's decisions rest on, worked out here from the run file and the tiles'
/// names: the `[stage] at` day, the newest S2 date on or before it, the newest drone flight on
/// or before it and the flight before that.
struct Basis {
    at: String,
    last_s2: String,
    flight: String,
    previous: String,
}

fn basis() -> Basis {
    let run =
        std::fs::read_to_string(crate::common::root().join("sample_tiles/nightly.toml")).unwrap();
    let at = run
        .lines()
        .find_map(|l| l.strip_prefix("at = \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .unwrap();
    // YYYY-MM-DD of `<prefix>YYYYMMDD.tif`, the dates on or before `at`, ascending.
    let dates = |prefix: &str| {
        let mut dates: Vec<String> = std::fs::read_dir(crate::common::root().join("sample_tiles"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().into_string().unwrap();
                let d = name.strip_prefix(prefix)?.strip_suffix(".tif")?.to_string();
                (d.len() == 8).then(|| format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..]))
            })
            .filter(|d| *d <= at)
            .collect();
        dates.sort();
        dates
    };
    let s2 = dates("s2_");
    let drone = dates("drone_");
    Basis {
        last_s2: s2.last().unwrap().clone(),
        flight: drone[drone.len() - 1].clone(),
        previous: drone[drone.len() - 2].clone(),
        at,
    }
}

#[test]
fn report_reads_on_a_phone_and_a_laptop() {
    let tmp = tempfile::tempdir().unwrap();
    let run = sample_run(tmp.path(), None);
    let report = run.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    // One file, nothing from the network, no script.
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    links_resolve(&html, &run);
    // What a person acts on comes first: the totals and prescription maps, then the plots.
    let act = html.find("<section class=\"act\">").unwrap();
    let rx_map = html.find("rx/plots/rx_nitrogen.png").unwrap();
    let plots = html.find("<table class=\"plots cards\">").unwrap();
    let index_map = html.find("index/s2/s2_20260607_ndvi.png").unwrap();
    assert!(act < rx_map && rx_map < plots && plots < index_map);
    assert!(html.contains("Nitrogen to order:"));
    assert!(html.contains("Confidence (0–1) says how sure the stage is"));
    // The dates the stages and the prescription rest on, in report.json and on the page.
    let b = basis();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap();
    let stage = &json["stage_dates"];
    assert_eq!(stage["at"], b.at.as_str());
    assert_eq!(stage["at_from"], "stage.at");
    assert_eq!(stage["last_index_date"], b.last_s2.as_str());
    let rx = &json["prescription_dates"];
    assert_eq!(rx["flight_date"], b.flight.as_str());
    assert_eq!(rx["previous_flight_date"], b.previous.as_str());
    assert_eq!(rx["stage"]["at"], b.flight.as_str());
    assert_eq!(rx["stage"]["at_from"], "flight date");
    for text in [
        format!(
            "Stages for {} (the run file&#39;s [stage] at), read off s2 NDVI images up to {}.",
            b.at, b.last_s2
        ),
        format!("From the drone flight of {} (drone_", b.flight),
        format!("compared with the flight of {} (drone_", b.previous),
    ] {
        assert!(html.contains(&text), "no {text}");
    }
    // Stages in words.
    assert!(html.contains(">panicle initiation<") && !html.contains(">panicle_initiation<"));
    if !chromium() {
        return;
    }
    phone(&measure(&report, 390, tmp.path()).unwrap());
    let laptop = measure(&report, 1366, tmp.path()).unwrap();
    let maps: Vec<(f64, f64, f64)> = images(&laptop).into_iter().filter(|i| i.2 > 0.0).collect();
    assert!(maps.len() >= 18, "{} maps with legends", maps.len());
    for (natural, shown, legend) in maps {
        let px = legend * shown / natural;
        assert!(
            px >= 11.0,
            "legend text {px:.1} px ({shown} of {natural} px wide)"
        );
    }
}

#[test]
fn chinese_report_reads_on_a_phone() {
    let tmp = tempfile::tempdir().unwrap();
    let run = sample_run(tmp.path(), Some("zh-CN"));
    let report = run.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"));
    for text in ["采购与施用", "需采购氮肥", "幼穗分化", "置信度"] {
        assert!(html.contains(text), "no {text}");
    }
    // The dates the decisions rest on, in Chinese.
    let b = basis();
    for text in [
        format!(
            "生育期为 {} 的判断（运行文件 [stage] at 所定），依据 s2 NDVI 截至 {} 的影像。",
            b.at, b.last_s2
        ),
        format!("依据 drone {} 的航拍", b.flight),
        format!("与 {} 的航拍", b.previous),
    ] {
        assert!(html.contains(&text), "no {text}");
    }
    // Units in Chinese throughout: rates per 公顷, areas in 平方米, the run's time in 秒; none
    // of kg/ha or m² beside them (the reasons stay as paddy wrote them, in English).
    assert!(
        html.contains(" 千克urea/公顷</td>"),
        "no rate in 千克urea/公顷"
    );
    assert!(html.contains(" 平方米</td>"));
    assert!(!html.contains(" kg urea/ha</td>") && !html.contains(" m²</td>"));
    assert!(!html.contains(" s · "), "the run's time in seconds, not 秒");
    // Machine values stay as they are: plot ids and file names.
    assert!(html.contains(">P01<") && html.contains("rx_nitrogen.png"));
    if !chromium() {
        return;
    }
    phone(&measure(&report, 390, tmp.path()).unwrap());
}
