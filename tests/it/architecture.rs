//! The rules of docs/ARCHITECTURE.md, checked on the source tree: which module may use which,
//! GDAL/OGR/PROJ only in `io`, no function outside tests longer than 150 lines, every document
//! the code cites exists (and the cited section with it), no issue numbers in code or docs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its path relative to the crate root.
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("readable source folder") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root())
                    .expect("under the crate")
                    .to_string_lossy();
                let text = fs::read_to_string(&path).expect("utf-8 source");
                out.push((rel.replace('\\', "/"), text));
            }
        }
    }
    out.sort();
    out
}

/// The code of a file before its `#[cfg(test)]` module, comments removed.
fn code(text: &str) -> String {
    let body = text.split("#[cfg(test)]").next().unwrap_or("");
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level module a source file belongs to (`src/zonal/run.rs` → `zonal`).
fn module_of(rel: &str) -> &str {
    let inner = rel.trim_start_matches("src/");
    let first = inner.split('/').next().unwrap_or(inner);
    first.trim_end_matches(".rs")
}

/// `crate::a::b` paths used by a file (also through `use crate::{a, b::c}` groups).
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                out.push(item.trim().replace(' ', ""));
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_string());
        }
    }
    out
}

/// What each layer must never use (docs/ARCHITECTURE.md, "Layers"): a module's `crate::` paths
/// must not start with any of these.
fn forbidden(module: &str) -> &'static [&'static str] {
    const ABOVE_PURE: &[&str] = &[
        "io",
        "export",
        "index",
        "zonal::run",
        "stage",
        "rx",
        "batch",
        "cli",
    ];
    match module {
        "error" | "log" | "catalogue" | "kernels" | "sensors" | "raster" | "phenology" => {
            ABOVE_PURE
        }
        "io" => &[
            "export",
            "index",
            "zonal::run",
            "stage",
            "rx",
            "batch",
            "cli",
        ],
        "export" => &["index", "zonal::run", "stage", "rx::run", "batch", "cli"],
        "index" | "zonal" | "stage" | "rx" => &["batch", "cli"],
        "batch" => &["cli"],
        _ => &[],
    }
}

#[test]
fn layers_only_call_downwards() {
    let mut broken = Vec::new();
    for (rel, text) in rust_files(&root().join("src")) {
        let module = module_of(&rel);
        for path in crate_paths(&code(&text)) {
            for bad in forbidden(module) {
                let hit = path == *bad || path.starts_with(&format!("{bad}::"));
                if hit {
                    broken.push(format!(
                        "{rel} uses crate::{path} ({module} must not use {bad})"
                    ));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn gdal_and_proj_only_in_io() {
    let mut broken = Vec::new();
    for (rel, text) in rust_files(&root().join("src")) {
        if rel.starts_with("src/io/") {
            continue;
        }
        for (n, line) in code(&text).lines().enumerate() {
            for lib in ["gdal", "gdal_sys", "proj", "proj_sys"] {
                let uses = line.match_indices(&format!("{lib}::")).any(|(i, _)| {
                    let before = line[..i].chars().next_back();
                    !matches!(before, Some(c) if c.is_alphanumeric() || c == '_' || c == ':')
                });
                if uses {
                    broken.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "GDAL/PROJ outside src/io:\n{}",
        broken.join("\n")
    );
}

/// Lengths of the functions in a file's non-test code: (name, first line, lines).
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let code = code(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let after_fn = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "pub(super) fn ",
            "const fn ",
            "pub const fn ",
            "unsafe fn ",
        ]
        .iter()
        .find_map(|p| trimmed.strip_prefix(p));
        let Some(after) = after_fn else { continue };
        let name: String = after
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let (mut depth, mut started) = (0i64, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            let mut in_str = false;
            let mut prev = ' ';
            for c in l.chars() {
                match c {
                    '"' if prev != '\\' => in_str = !in_str,
                    '{' if !in_str => {
                        depth += 1;
                        started = true;
                    }
                    '}' if !in_str => depth -= 1,
                    _ => {}
                }
                prev = c;
            }
            if !started && l.trim_end().ends_with(';') {
                break;
            }
            if started && depth <= 0 {
                out.push((name.clone(), i + 1, j - i + 1));
                break;
            }
        }
    }
    out
}

#[test]
fn no_function_longer_than_150_lines() {
    let mut long = Vec::new();
    for (rel, text) in rust_files(&root().join("src")) {
        for (name, line, n) in function_lengths(&text) {
            if n > 150 {
                long.push(format!("{rel}:{line}: fn {name} is {n} lines"));
            }
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

#[test]
fn the_length_check_sees_a_long_function() {
    let body = "    let x = 1;\n".repeat(160);
    let text = format!("fn short() {{\n}}\n\nfn long() {{\n{body}}}\n");
    let found = function_lengths(&text);
    assert_eq!(found[0], ("short".to_string(), 1, 2));
    assert_eq!(found[1], ("long".to_string(), 4, 162));
}

/// The headings of a Markdown file.
fn headings(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_string())
        .collect()
}

/// Files to check for citations and issue numbers: sources, scripts, docs, README, BENCHMARKS.
fn prose_files() -> Vec<(String, String)> {
    let mut files = rust_files(&root().join("src"));
    files.extend(
        rust_files(&root().join("tests"))
            .into_iter()
            .filter(|(rel, _)| rel != "tests/it/architecture.rs"),
    );
    for dir in ["scripts", "docs"] {
        for entry in fs::read_dir(root().join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if let Ok(text) = fs::read_to_string(&path) {
                files.push((
                    format!("{dir}/{}", entry.file_name().to_string_lossy()),
                    text,
                ));
            }
        }
    }
    for file in ["README.md", "BENCHMARKS.md"] {
        if let Ok(text) = fs::read_to_string(root().join(file)) {
            files.push((file.to_string(), text));
        }
    }
    files
}

#[test]
fn every_cited_document_and_section_exists() {
    let docs: BTreeMap<String, Vec<String>> = fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "md"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                headings(&e.path()),
            )
        })
        .collect();
    assert!(docs.contains_key("AGRONOMY.md") && docs.contains_key("ARCHITECTURE.md"));
    let mut broken = Vec::new();
    for (rel, text) in prose_files() {
        // Comment markers at line starts joined away, so a citation may run over two lines.
        let flat = text
            .lines()
            .map(|l| l.trim_start().trim_start_matches(['/', '!', '#']).trim())
            .collect::<Vec<_>>()
            .join(" ");
        for (i, _) in flat.match_indices(".md") {
            let start = flat[..i]
                .rfind(|c: char| !(c.is_alphanumeric() || "_-./".contains(c)))
                .map_or(0, |s| s + 1);
            let cited = &flat[start..i + 3];
            if start == i || cited.contains("shared/") || cited.contains("://") {
                continue;
            }
            if cited.contains('/') && !cited.starts_with("docs/") {
                // A path into the repository must exist; other paths are outputs or examples.
                let ours = ["src/", "tests/", "scripts/", "benches/", "sample_tiles/"];
                if ours.iter().any(|p| cited.starts_with(p)) && !root().join(cited).is_file() {
                    broken.push(format!("{rel}: {cited} does not exist"));
                }
                continue;
            }
            let name = cited.trim_start_matches("docs/").to_string();
            if root().join(&name).is_file() && !cited.starts_with("docs/") {
                continue;
            }
            let Some(sections) = docs.get(&name) else {
                broken.push(format!("{rel}: {name} is not in docs/"));
                continue;
            };
            // `AGRONOMY.md, "Section"` cites a heading (a heading may add a parenthesis).
            if let Some(cited) = flat[i + 3..].strip_prefix(", \"") {
                let title = &cited[..cited.find('"').unwrap_or(0)];
                let heading = |s: &String| s == title || s.starts_with(&format!("{title} ("));
                if !sections.iter().any(heading) {
                    broken.push(format!("{rel}: {name} has no section \"{title}\""));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn no_issue_numbers_in_code_or_docs() {
    let mut found = Vec::new();
    for (rel, text) in prose_files() {
        let lower = text.to_lowercase();
        for (i, _) in lower.match_indices("issue ") {
            let after = lower[i + 6..].trim_start_matches('#');
            if after.starts_with(|c: char| c.is_ascii_digit()) {
                let line = lower[..i].matches('\n').count() + 1;
                found.push(format!("{rel}:{line}"));
            }
        }
    }
    assert!(found.is_empty(), "issue numbers in: {}", found.join(", "));
}
