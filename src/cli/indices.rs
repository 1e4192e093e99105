//! `paddy indices`: the spectral index catalogue, filtered, in 80 columns or as JSON.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::catalogue::{Catalogue, IndexDef, Role};
use crate::error::{Error, Result};
use crate::kernels::HAND_WRITTEN;

/// List the spectral index catalogue (Awesome Spectral Indices: 254 formulas), or show one.
///
/// Examples:
///
///   paddy indices --domain water
///
///   paddy indices --bands-available B,G,R,RE1,N      # what a 5-band drone camera can compute
///
///   paddy indices show NDRE
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct IndicesArgs {
    #[command(subcommand)]
    command: Option<IndicesCommand>,

    /// Only indices of this application domain: vegetation, water, soil, urban, burn, snow,
    /// radar, kernel.
    #[arg(long, value_name = "DOMAIN")]
    domain: Option<String>,

    /// Only indices computable from these bands (role symbols or aliases, comma-separated).
    #[arg(long, value_name = "ROLES", value_delimiter = ',')]
    bands_available: Vec<String>,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,

    /// A newer catalogue folder (spectral-indices-dict.json, constants.json).
    #[arg(long, value_name = "DIR")]
    catalogue: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum IndicesCommand {
    /// Formula, bands, constants with defaults and reference of one index.
    Show {
        /// Catalogue name or alias (NDRE, MSAVI2, CIgreen, …).
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn hand_written(def: &IndexDef) -> bool {
    HAND_WRITTEN.contains(&def.short_name.as_str())
}

/// Cut `text` to `width` characters, marking the cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

pub fn run(args: IndicesArgs) -> Result<()> {
    let catalogue = &*Catalogue::load_or_builtin(args.catalogue.as_deref())?;
    if let Some(IndicesCommand::Show { name, json }) = &args.command {
        return show(catalogue, name, *json || args.json);
    }
    let available = args
        .bands_available
        .iter()
        .map(|b| {
            Role::parse(b)
                .ok_or_else(|| Error::usage(format!("--bands-available: unknown band '{b}'")))
        })
        .collect::<Result<Vec<Role>>>()?;
    if let Some(want) = args.domain.as_deref() {
        let mut domains: Vec<&str> = catalogue
            .indices()
            .map(|d| d.application_domain.as_str())
            .collect();
        domains.sort_unstable();
        domains.dedup();
        if !domains.iter().any(|d| d.eq_ignore_ascii_case(want)) {
            return Err(Error::usage(format!(
                "--domain: no index has the domain '{want}' (known: {})",
                domains.join(", ")
            )));
        }
    }
    let selected: Vec<&IndexDef> = catalogue
        .indices()
        .filter(|d| {
            args.domain.as_deref().map_or(true, |want| {
                want.eq_ignore_ascii_case(&d.application_domain)
            })
        })
        .filter(|d| available.is_empty() || d.roles().iter().all(|r| available.contains(r)))
        .collect();
    if args.json {
        let list: Vec<_> = selected
            .iter()
            .map(|d| {
                json!({
                    "name": d.short_name, "long_name": d.long_name, "domain": d.application_domain,
                    "bands": d.roles().iter().map(|r| r.symbol()).collect::<Vec<_>>(),
                    "constants": d.constants(), "formula": d.formula,
                    "hand_written_kernel": hand_written(d),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(());
    }
    // 80 columns: name 10, domain 10, bands 20, long name 37 (with single spaces between).
    println!("{:<10} {:<10} {:<20} LONG NAME", "NAME", "DOMAIN", "BANDS");
    for d in &selected {
        let bands: Vec<&str> = d.roles().iter().map(|r| r.symbol()).collect();
        let name = if hand_written(d) {
            format!("{}*", d.short_name)
        } else {
            d.short_name.clone()
        };
        println!(
            "{:<10} {:<10} {:<20} {}",
            fit(&name, 10),
            fit(&d.application_domain, 10),
            fit(&bands.join(","), 20),
            fit(&d.long_name, 37)
        );
    }
    println!(
        "{} of {} indices (* hand-written kernel); formula: paddy indices show NAME",
        selected.len(),
        catalogue.indices().count()
    );
    Ok(())
}

fn show(catalogue: &Catalogue, name: &str, json: bool) -> Result<()> {
    let d = catalogue.index(name).ok_or_else(|| {
        Error::usage(format!(
            "unknown index '{name}': `paddy indices` lists the catalogue"
        ))
    })?;
    let constants: Vec<_> = d
        .constants()
        .into_iter()
        .map(|c| {
            let def = catalogue.constant(c);
            (
                c.to_string(),
                def.and_then(|x| x.default),
                def.map_or_else(String::new, |x| x.description.clone()),
            )
        })
        .collect();
    if json {
        let value = json!({
            "name": d.short_name, "long_name": d.long_name, "domain": d.application_domain,
            "formula": d.formula,
            "bands": d.roles().iter().map(|r| json!({"symbol": r.symbol(), "name": r.long_name()})).collect::<Vec<_>>(),
            "constants": constants.iter().map(|(c, v, desc)| json!({"name": c, "default": v, "description": desc})).collect::<Vec<_>>(),
            "reference": d.reference, "platforms": d.platforms,
            "hand_written_kernel": hand_written(d),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(());
    }
    println!("{} — {}", d.short_name, d.long_name);
    println!("  domain     {}", d.application_domain);
    println!("  formula    {}", d.formula);
    let bands: Vec<String> = d
        .roles()
        .iter()
        .map(|r| format!("{} ({})", r.symbol(), r.long_name()))
        .collect();
    println!("  bands      {}", bands.join(", "));
    if constants.is_empty() {
        println!("  constants  none");
    }
    for (i, (c, v, desc)) in constants.iter().enumerate() {
        let value = v.map_or("no default: give --const".to_string(), |v| format!("= {v}"));
        let label = if i == 0 { "constants" } else { "" };
        println!("  {label:<10} {c} {value}  ({desc})");
    }
    println!(
        "  computed   {}",
        if hand_written(d) {
            "hand-written kernel (--engine expr: expression engine)"
        } else {
            "expression engine"
        }
    );
    if !d.platforms.is_empty() {
        println!("  platforms  {}", d.platforms.join(", "));
    }
    println!("  reference  {}", d.reference);
    Ok(())
}
