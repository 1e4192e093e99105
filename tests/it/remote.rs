//! Remote data: COGs and a STAC Item served over HTTP from 127.0.0.1 by a small server written
//! here (byte ranges, as a cloud store serves them); outputs identical to the local run; a 404
//! and a stalled server give exit 1 naming the URL, with nothing partial left.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use crate::resolutions::gdal_cli;

/// Request lines the server received.
type Log = Arc<Mutex<Vec<String>>>;

/// Serve files under `root` on 127.0.0.1 (GET with Range, HEAD; 404 for missing files; a
/// query string is ignored) until the test process ends. After `answer` requests the server
/// accepts but never answers (a stalled server). Returns the base URL, a request counter and
/// the request lines.
pub fn serve(root: PathBuf, answer: usize) -> (String, Arc<AtomicUsize>, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let log: Log = Arc::default();
    let (seen, logged) = (count.clone(), log.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (root, seen, logged) = (root.clone(), seen.clone(), logged.clone());
            std::thread::spawn(move || {
                let n = seen.fetch_add(1, Ordering::SeqCst);
                if n >= answer {
                    std::thread::sleep(Duration::from_secs(120));
                    return;
                }
                let _ = answer_one(stream, &root, &logged);
            });
        }
    });
    (url, count, log)
}

fn answer_one(mut stream: TcpStream, root: &Path, log: &Log) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(r) = lower.strip_prefix("range: bytes=") {
            let (a, b) = r.trim().split_once('-').unwrap_or(("0", ""));
            range = Some((a.parse::<u64>().unwrap_or(0), b.parse::<u64>().ok()));
        }
    }
    if let Ok(mut l) = log.lock() {
        l.push(request.trim().to_string());
    }
    let mut parts = request.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let target = target.split('?').next().unwrap_or("/");
    let path = root.join(target.trim_start_matches('/'));
    let Ok(mut file) = std::fs::File::open(&path).and_then(|f| {
        if f.metadata()?.is_file() {
            Ok(f)
        } else {
            Err(std::io::Error::other("a folder"))
        }
    }) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let total = file.metadata()?.len();
    let mut body = Vec::new();
    file.read_to_end(&mut body)?;
    let (status, start, end) = match range {
        Some((a, b)) if a < total => (
            "206 Partial Content",
            a,
            b.unwrap_or(total - 1).min(total - 1),
        ),
        Some(_) => return stream.write_all(
            b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
        None => ("200 OK", 0, total.saturating_sub(1)),
    };
    let len = if total == 0 { 0 } else { end - start + 1 };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n"
    );
    if status.starts_with("206") {
        head.push_str(&format!("Content-Range: bytes {start}-{end}/{total}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if method != "HEAD" && len > 0 {
        stream.write_all(&body[start as usize..=end as usize])?;
    }
    Ok(())
}

/// COGs of the Austrian clip's red and NIR (10 m) and a 20 m band, and a STAC Item naming
/// them by relative href, in `dir/served`. None where the data is absent.
pub fn served_files(dir: &Path) -> Option<PathBuf> {
    let stack = shared_data()?.join("s2_austria_bitemporal/inference-img.tif");
    let s = stack.to_str().unwrap();
    let served = dir.join("served");
    std::fs::create_dir(&served).unwrap();
    let cog = |band: &str, out: &str| {
        let a = [
            "-q",
            "-b",
            band,
            "-of",
            "COG",
            "-co",
            "BLOCKSIZE=256",
            s,
            out,
        ];
        gdal_cli(&served, "gdal_translate", &a);
    };
    cog("1", "B04.tif");
    cog("4", "B08.tif");
    gdal_cli(
        &served,
        "gdal_translate",
        &["-q", "-b", "2", s, "green.tif"],
    );
    let a = [
        "-q",
        "-tr",
        "20",
        "20",
        "-r",
        "average",
        "-of",
        "COG",
        "green.tif",
        "B05.tif",
    ];
    gdal_cli(&served, "gdalwarp", &a);
    std::fs::remove_file(served.join("green.tif")).unwrap();
    let asset = |href: &str, common: Option<&str>, name: &str| {
        let common = common.map_or(String::new(), |c| format!(r#""common_name": "{c}", "#));
        format!(
            r#"{{"href": "./{href}", "type": "image/tiff; application=geotiff; profile=cloud-optimized", "roles": ["data"],
               "eo:bands": [{{{common}"name": "{name}"}}],
               "raster:bands": [{{"scale": 0.0001, "offset": 0, "nodata": 0}}]}}"#
        )
    };
    let item = format!(
        r#"{{"type": "Feature", "stac_version": "1.0.0", "id": "S2B_33UVP_20210617_0_L2A",
  "geometry": null, "bbox": [13.1, 48.3, 13.2, 48.4],
  "properties": {{"datetime": "2021-06-17T10:05:59Z", "platform": "sentinel-2b"}},
  "links": [],
  "assets": {{
    "red": {},
    "nir": {},
    "rededge1": {},
    "thumbnail": {{"href": "./thumb.png", "type": "image/png", "roles": ["thumbnail"]}}
  }}}}"#,
        asset("B04.tif", Some("red"), "B04"),
        asset("B08.tif", Some("nir"), "B08"),
        asset("B05.tif", Some("rededge"), "B05"),
    );
    std::fs::write(served.join("item.json"), item).unwrap();
    Some(served)
}

fn same_pixels(a: &Path, b: &Path) {
    let (x, y) = (read_band(a, 1), read_band(b, 1));
    assert_eq!((x.width, x.height), (y.width, y.height));
    assert!(
        x.data == y.data,
        "{} and {} differ",
        a.display(),
        b.display()
    );
    assert!(x.data.iter().any(|v| *v != -9999.0), "no valid pixel");
}

#[test]
fn a_stac_item_and_cogs_over_http_equal_the_local_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(served) = served_files(dir) else {
        return;
    };
    let (url, requests, _) = serve(served.clone(), usize::MAX);
    let local_item = served.join("item.json");
    let remote_item = format!("{url}/item.json");
    let args = |item: &str, out: &str| -> Vec<String> {
        ["index", item, "-i", "ndvi,ndre", "-o", out, "-q"]
            .map(String::from)
            .to_vec()
    };
    let run = |a: Vec<String>| paddy_ok(dir, &a.iter().map(String::as_str).collect::<Vec<_>>());
    run(args(local_item.to_str().unwrap(), "local"));
    run(args(&remote_item, "remote"));
    for index in ["ndvi", "ndre"] {
        let name = format!("S2B_33UVP_20210617_0_L2A_{index}.tif");
        same_pixels(
            &dir.join("local").join(&name),
            &dir.join("remote").join(&name),
        );
    }
    let ds = gdal::Dataset::open(dir.join("remote/S2B_33UVP_20210617_0_L2A_ndre.tif")).unwrap();
    use gdal::Metadata;
    assert_eq!(
        ds.metadata_item("ACQUISITION_DATE", "").as_deref(),
        Some("2021-06-17")
    );
    assert_eq!(ds.raster_size(), (578, 379), "on the 10 m grid");

    // COG URLs given as bands, with an area of interest: only its windows are fetched.
    let before = requests.load(Ordering::SeqCst);
    let (r, n) = (format!("R={url}/B04.tif"), format!("N={url}/B08.tif"));
    let box_ = "359500,5350000,360000,5350500";
    let cogs = [
        "index",
        "--sensor",
        "sentinel2-l2a",
        "--band",
        &r,
        "--band",
        &n,
        "-i",
        "ndvi",
        "--name",
        "cog",
        "-o",
        "cog",
        "-q",
        "--aoi",
        box_,
    ];
    paddy_ok(dir, &cogs);
    let (lr, ln) = (
        format!("R={}", served.join("B04.tif").display()),
        format!("N={}", served.join("B08.tif").display()),
    );
    let local = [
        "index",
        "--sensor",
        "sentinel2-l2a",
        "--band",
        &lr,
        "--band",
        &ln,
        "-i",
        "ndvi",
        "--name",
        "cog",
        "-o",
        "cog_local",
        "-q",
        "--aoi",
        box_,
    ];
    paddy_ok(dir, &local);
    same_pixels(
        &dir.join("cog/cog_ndvi.tif"),
        &dir.join("cog_local/cog_ndvi.tif"),
    );
    assert!(
        requests.load(Ordering::SeqCst) > before,
        "the COGs were fetched"
    );
}

fn fails_naming(dir: &Path, args: &[&str], url: &str) {
    let out = paddy(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(url), "'{url}' not named: {err}");
    let left = files_in(&dir.join("out"));
    assert!(left.is_empty(), "partial outputs left: {left:?}");
}

#[test]
fn a_missing_url_fails_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(served) = served_files(dir) else {
        return;
    };
    let (url, _, _) = serve(served, usize::MAX);
    let missing = format!("{url}/B99.tif");
    fails_naming(
        dir,
        &["index", &missing, "-i", "ndvi", "-o", "out"],
        &missing,
    );
    let item = format!("{url}/nothing.json");
    fails_naming(dir, &["index", &item, "-i", "ndvi", "-o", "out"], &item);
}

#[test]
fn a_stalled_server_fails_naming_the_url() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(served) = served_files(dir) else {
        return;
    };
    // The item and the first requests are answered; then the server stops answering.
    for answered in [0, 3] {
        let (url, _, _) = serve(served.clone(), answered);
        let item = format!("{url}/item.json");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_paddy"))
            .current_dir(dir)
            .env("GDAL_HTTP_TIMEOUT", "2")
            .env("GDAL_HTTP_MAX_RETRY", "0")
            .args(["index", &item, "-i", "ndvi", "-o", "out"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "after {answered} answers: {err}"
        );
        assert!(
            err.contains(&url),
            "after {answered} answers, the URL is not named: {err}"
        );
        let left = files_in(&dir.join("out"));
        assert!(left.is_empty(), "partial outputs left: {left:?}");
    }
}

/// `paddy run` with a source of STAC Items, served over HTTP: a new item is a new unit on the
/// next run, and what was done is skipped.
#[test]
fn a_nightly_run_picks_up_a_new_stac_item() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(served) = served_files(dir) else {
        return;
    };
    let (url, _, _) = serve(served.clone(), usize::MAX);
    // Items saved locally (as a STAC search would leave them), their assets on the server.
    let item = std::fs::read_to_string(served.join("item.json"))
        .unwrap()
        .replace("\"./", &format!("\"{url}/"));
    let second = item
        .replace("S2B_33UVP_20210617_0_L2A", "S2A_33UVP_20210627_0_L2A")
        .replace("2021-06-17", "2021-06-27");
    std::fs::create_dir(dir.join("items")).unwrap();
    std::fs::write(dir.join("items/S2B_33UVP_20210617_0_L2A.json"), item).unwrap();
    // One plot inside the clip (EPSG:32633).
    let plots = r#"{"type": "FeatureCollection",
 "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
 "features": [{"type": "Feature", "properties": {"plot_id": "P1"},
  "geometry": {"type": "Polygon", "coordinates": [[[360000, 5350000], [360500, 5350000],
   [360500, 5350500], [360000, 5350500], [360000, 5350000]]]}}]}"#;
    std::fs::write(dir.join("plots.geojson"), plots).unwrap();
    let text = "output = \"out\"\n[[sources]]\nname = \"s2\"\ntiles = [\"items/*.json\"]\nindices = [\"ndvi\", \"ndre\"]\n[plots]\nfiles = [\"plots.geojson\"]\nid_field = \"plot_id\"\n[stats]\n";
    std::fs::write(dir.join("run.toml"), text).unwrap();
    let report = || -> serde_json::Value {
        let path = dir.join("out/2026-07-18/report.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    paddy_ok(dir, &["run", "run.toml", "--run-date", "2026-07-18", "-q"]);
    let first = report();
    assert_eq!(first["summary"]["failed"], 0, "{}", first["summary"]);
    let ndvi = dir.join("out/2026-07-18/index/s2/S2B_33UVP_20210617_0_L2A_ndvi.tif");
    assert!(ndvi.exists(), "{}", first["units"]);
    // The next night the search has found a second item.
    std::fs::write(dir.join("items/S2A_33UVP_20210627_0_L2A.json"), second).unwrap();
    paddy_ok(dir, &["run", "run.toml", "--run-date", "2026-07-18", "-q"]);
    let second = report();
    assert_eq!(second["summary"]["failed"], 0, "{}", second["summary"]);
    let skipped = second["summary"]["skipped_up_to_date"].as_u64().unwrap();
    let ran = second["units"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["status"] == "ok")
        .count();
    assert!(
        skipped == 2,
        "the first item's index and stats units are kept: {}",
        second["summary"]
    );
    assert_eq!(
        ran, 2,
        "the new item's index and stats units: {}",
        second["summary"]
    );
    assert!(dir
        .join("out/2026-07-18/index/s2/S2A_33UVP_20210627_0_L2A_ndvi.tif")
        .exists());
}

/// `[sources.stac]`: a STAC API search over the plots' extent, filtered by cloud cover; an item
/// the search finds on the next night is a new unit, the rest are skipped.
#[test]
fn a_nightly_run_searches_a_stac_api() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Some(served) = served_files(dir) else {
        return;
    };
    let (url, _, log) = serve(served.clone(), usize::MAX);
    let item = std::fs::read_to_string(served.join("item.json"))
        .unwrap()
        .replace("\"./", &format!("\"{url}/"));
    std::fs::create_dir(served.join("items")).unwrap();
    let feature = |id: &str, date: &str, cloud: f64| -> String {
        let text = item
            .replace("S2B_33UVP_20210617_0_L2A", id)
            .replace("2021-06-17", date)
            .replace(
                "\"platform\"",
                &format!("\"eo:cloud_cover\": {cloud}, \"platform\""),
            )
            .replace(
                "\"links\": []",
                &format!("\"links\": [{{\"rel\": \"self\", \"href\": \"{url}/items/{id}\"}}]"),
            );
        std::fs::write(served.join("items").join(id), &text).unwrap();
        text
    };
    let search = |features: &[String]| {
        let body = format!(
            "{{\"type\": \"FeatureCollection\", \"features\": [{}], \"links\": []}}",
            features.join(",")
        );
        std::fs::write(served.join("search"), body).unwrap();
    };
    let (a, cloudy) = (
        feature("S2B_33UVP_20210617_0_L2A", "2021-06-17", 12.0),
        feature("S2A_33UVP_20210620_0_L2A", "2021-06-20", 85.0),
    );
    search(&[a.clone(), cloudy.clone()]);
    let plots = r#"{"type": "FeatureCollection",
 "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}},
 "features": [{"type": "Feature", "properties": {"plot_id": "P1"},
  "geometry": {"type": "Polygon", "coordinates": [[[360000, 5350000], [360500, 5350000],
   [360500, 5350500], [360000, 5350500], [360000, 5350000]]]}}]}"#;
    std::fs::write(dir.join("plots.geojson"), plots).unwrap();
    let run = format!(
        "output = \"out\"\n[[sources]]\nname = \"s2\"\nindices = [\"ndvi\"]\n[sources.stac]\nurl = \"{url}\"\ncollection = \"sentinel-2-l2a\"\ndatetime = \"2021-06-01/2021-07-31\"\nmax_cloud = 50\n[plots]\nfiles = [\"plots.geojson\"]\nid_field = \"plot_id\"\n[stats]\n"
    );
    std::fs::write(dir.join("run.toml"), run).unwrap();
    let report = || -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join("out/2026-07-18/report.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let index = |id: &str| dir.join(format!("out/2026-07-18/index/s2/{id}_ndvi.tif"));
    let checked = paddy_ok(dir, &["validate", "run.toml"]);
    assert!(checked.contains("1 tile(s)"), "{checked}");
    paddy_ok(dir, &["run", "run.toml", "--run-date", "2026-07-18", "-q"]);
    assert_eq!(report()["summary"]["failed"], 0, "{}", report()["summary"]);
    assert!(index("S2B_33UVP_20210617_0_L2A").exists());
    assert!(
        !index("S2A_33UVP_20210620_0_L2A").exists(),
        "85 % cloud is over max_cloud"
    );
    // The search asked for the collection, the dates and the plots' lon/lat box (13.1°E 48.3°N).
    let searches: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("/search?"))
        .cloned()
        .collect();
    let q = searches.first().expect("a search request");
    assert!(q.contains("collections=sentinel-2-l2a"), "{q}");
    assert!(q.contains("datetime=2021-06-01/2021-07-31"), "{q}");
    let bbox: Vec<f64> = q
        .split("bbox=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        (13.0..13.2).contains(&bbox[0]) && (48.2..48.4).contains(&bbox[1]),
        "{bbox:?}"
    );
    assert!(
        bbox[2] - bbox[0] < 0.01 && bbox[3] - bbox[1] < 0.01,
        "{bbox:?}"
    );
    // Next night: a new clear acquisition.
    let b = feature("S2A_33UVP_20210627_0_L2A", "2021-06-27", 3.0);
    search(&[a, cloudy, b]);
    paddy_ok(dir, &["run", "run.toml", "--run-date", "2026-07-18", "-q"]);
    let second = report();
    assert_eq!(second["summary"]["ok"], 2, "{}", second["summary"]);
    assert_eq!(
        second["summary"]["skipped_up_to_date"], 2,
        "{}",
        second["summary"]
    );
    assert!(index("S2A_33UVP_20210627_0_L2A").exists());
}
