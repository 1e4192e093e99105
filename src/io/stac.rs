//! A STAC Item (a JSON file or URL) as a product: its raster assets, each with what it calls the
//! band (`eo:bands` common name and name, the asset key) and its `raster:bands` scale and offset.
//! Remote assets are read through /vsicurl/ (or /vsis3/), window by window.

use std::path::Path;

use serde_json::Value;

use super::product::{gdal_path, read_text, Product, ProductBand};
use crate::error::{Error, Result};

/// Read the STAC Item at `location` (a file, or an http(s) URL).
pub fn item(location: &Path) -> Result<Product> {
    let fail = |message: String| Error::Input {
        path: location.to_path_buf(),
        message,
    };
    let source = gdal_path(location);
    let text = read_text(&source.to_string_lossy(), location)?;
    if text.trim().is_empty() {
        return Err(fail(
            "nothing came back (is the host reachable? GDAL_HTTP_* settings: see README)".into(),
        ));
    }
    let json: Value = serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
    if json["type"] != "Feature" || !json["assets"].is_object() {
        return Err(fail(
            "not a STAC Item (a GeoJSON Feature with assets); a STAC API search is not an input of `paddy index`".into(),
        ));
    }
    let properties = &json["properties"];
    let platform = properties["platform"]
        .as_str()
        .or_else(|| properties["constellation"].as_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let profile = if platform.contains("sentinel-2") {
        "sentinel2-l2a"
    } else if platform.contains("landsat") {
        "landsat-c2-l2"
    } else {
        "generic"
    };
    let base = base_of(&location.to_string_lossy());
    let mut bands = Vec::new();
    let assets = json["assets"].as_object().into_iter().flatten();
    for (key, asset) in assets {
        let Some(href) = asset["href"].as_str() else {
            continue;
        };
        if !is_raster(asset, href) {
            continue;
        }
        let eo = &asset["eo:bands"][0];
        let names: Vec<String> = [eo["common_name"].as_str(), eo["name"].as_str(), Some(key)]
            .into_iter()
            .flatten()
            .map(str::to_string)
            .collect();
        let raster = &asset["raster:bands"][0];
        let calibration = match (raster["scale"].as_f64(), raster["offset"].as_f64()) {
            (None, None) => None,
            (s, o) => Some((s.unwrap_or(1.0), o.unwrap_or(0.0))),
        };
        bands.push(ProductBand {
            path: gdal_path(Path::new(&resolve(&base, href))),
            calibration,
            names,
        });
    }
    // Cloud Optimized GeoTIFFs before other copies of the same band (Earth Search lists a
    // JPEG 2000 twin of each).
    bands.sort_by_key(|b| {
        !b.path
            .to_string_lossy()
            .to_ascii_lowercase()
            .ends_with(".tif")
    });
    if bands.is_empty() {
        return Err(fail("the STAC Item has no raster assets".into()));
    }
    let name = json["id"].as_str().map(str::to_string).unwrap_or_else(|| {
        super::file_name(location)
            .trim_end_matches(".json")
            .to_string()
    });
    Ok(Product {
        profile,
        name,
        bands,
        date: properties["datetime"]
            .as_str()
            .or_else(|| properties["start_datetime"].as_str())
            .map(|d| d.chars().take(10).collect()),
        note: format!(
            "STAC Item ({}), calibration from raster:bands where given",
            if platform.is_empty() {
                "platform not given"
            } else {
                &platform
            }
        ),
    })
}

/// The items of a STAC API search (GET {api}/search, following `next` links): their URLs
/// (the `self` link, else {api}/collections/{collection}/items/{id}), sorted. `bbox` in lon/lat.
pub fn search(
    api: &str,
    collection: &str,
    bbox: [f64; 4],
    datetime: Option<&str>,
    max_cloud: Option<f64>,
) -> Result<Vec<String>> {
    let api = api.trim_end_matches('/');
    let mut url = format!(
        "{api}/search?collections={collection}&bbox={},{},{},{}&limit=100",
        bbox[0], bbox[1], bbox[2], bbox[3]
    );
    if let Some(d) = datetime {
        url.push_str(&format!("&datetime={d}"));
    }
    let mut items = Vec::new();
    for _page in 0..100 {
        let fail = |message: String| Error::Input {
            path: url.clone().into(),
            message: format!("STAC search: {message}"),
        };
        let text = http_get(&url).map_err(fail)?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
        let Some(features) = json["features"].as_array() else {
            return Err(fail(
                "no features in the answer (not a STAC API search?)".into(),
            ));
        };
        for f in features {
            let cloud = f["properties"]["eo:cloud_cover"].as_f64();
            if let (Some(max), Some(c)) = (max_cloud, cloud) {
                if c > max {
                    continue;
                }
            }
            let link = |rel: &str| {
                f["links"].as_array().into_iter().flatten().find_map(|l| {
                    (l["rel"] == rel).then(|| l["href"].as_str().map(str::to_string))?
                })
            };
            let id = f["id"].as_str().unwrap_or_default();
            items.push(
                link("self")
                    .unwrap_or_else(|| format!("{api}/collections/{collection}/items/{id}")),
            );
        }
        let next = json["links"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|l| {
                let get = l["method"]
                    .as_str()
                    .map_or(true, |m| m.eq_ignore_ascii_case("GET"));
                (l["rel"] == "next" && get).then(|| l["href"].as_str().map(str::to_string))?
            });
        match next {
            Some(n) if !features.is_empty() => url = n,
            _ => break,
        }
    }
    items.sort();
    items.dedup();
    Ok(items)
}

/// GET `url` through GDAL's /vsicurl/ (its timeouts and retries; no HEAD request, which some
/// APIs refuse), the body as text.
fn http_get(url: &str) -> std::result::Result<String, String> {
    let encoded: String = url
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let vsi = format!("/vsicurl?use_head=no&url={encoded}");
    read_text(&vsi, Path::new(url)).map_err(|e| e.to_string())
}

/// A data asset GDAL can read as a raster (not a thumbnail, metadata or a true-colour preview).
fn is_raster(asset: &Value, href: &str) -> bool {
    let roles: Vec<&str> = asset["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if roles
        .iter()
        .any(|r| matches!(*r, "thumbnail" | "overview" | "metadata" | "visual"))
    {
        return false;
    }
    let media = asset["type"].as_str().unwrap_or("");
    let lower = href.to_ascii_lowercase();
    media.contains("image/tiff")
        || media.contains("image/jp2")
        || [".tif", ".tiff", ".jp2"].iter().any(|e| lower.ends_with(e))
}

/// The folder or URL prefix relative hrefs start from.
fn base_of(location: &str) -> String {
    match location.rfind('/') {
        Some(i) => location[..=i].to_string(),
        None => String::new(),
    }
}

/// `href` against `base`: absolute hrefs (a scheme, or a leading /) stay as they are.
fn resolve(base: &str, href: &str) -> String {
    if href.contains("://") || href.starts_with('/') {
        return href.to_string();
    }
    let href = href.trim_start_matches("./");
    format!("{base}{href}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_resolve_against_the_item() {
        let base = base_of("http://h:1/items/a.json");
        assert_eq!(resolve(&base, "./B04.tif"), "http://h:1/items/B04.tif");
        assert_eq!(resolve(&base, "https://x/y.tif"), "https://x/y.tif");
        assert_eq!(resolve(&base_of("item.json"), "B04.tif"), "B04.tif");
        assert_eq!(
            gdal_path(Path::new("s3://bucket/k.tif")),
            Path::new("/vsis3/bucket/k.tif")
        );
    }
}
