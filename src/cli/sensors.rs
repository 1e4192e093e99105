//! `paddy sensors`: the sensor profiles paddy knows.

use clap::Args;
use serde_json::json;

use crate::error::Result;
use crate::sensors::Profile;

/// List the built-in sensor profiles (how DNs become reflectance, which band is which).
#[derive(Debug, Args)]
pub struct SensorsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: SensorsArgs) -> Result<()> {
    let profiles = Profile::builtin();
    if args.json {
        let list: Vec<_> = profiles
            .iter()
            .map(|p| {
                json!({
                    "name": p.name, "description": p.description, "scale": p.scale,
                    "offset": p.offset, "offset_metadata": p.offset_metadata, "nodata": p.nodata,
                    "raw_counts": p.raw_counts,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).unwrap_or_default()
        );
        return Ok(());
    }
    for p in profiles {
        println!("{:<18} {}", p.name, p.description);
    }
    Ok(())
}
