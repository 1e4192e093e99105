//! What an output file is, as `report.json` and `rx_report.json` name it: one enum for every
//! writer and reader, so a kind is never a string matched again elsewhere.

use serde::{Deserialize, Serialize};

/// The kind of an output file (serialised in snake case: `index`, `rx_nitrogen_zones`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// An index raster (`paddy index`).
    Index,
    /// A QGIS style beside a layer.
    Style,
    /// A PNG for people (index map, stage chart, prescription map).
    Quicklook,
    /// Per-plot statistics (CSV, GeoJSON).
    Stats,
    /// The stage table (CSV, GeoJSON).
    Stage,
    /// The nitrogen rate grid (GeoTIFF).
    RxNitrogen,
    /// The nitrogen machine layer (GeoJSON, zipped shapefile).
    RxNitrogenZones,
    /// The nitrogen layer for people.
    RxNitrogenPlots,
    /// The spray rate grid (GeoTIFF).
    RxSpray,
    /// The spray machine layer.
    RxSprayZones,
    /// The spray layer for people.
    RxSprayPlots,
    /// ISO 11783-10 task data.
    Isoxml,
    /// The prescription's per-plot summary (`rx_summary.csv`).
    Summary,
    /// The prescription's report (`rx_report.json`).
    Report,
}

impl OutputKind {
    /// The name as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Index => "index",
            OutputKind::Style => "style",
            OutputKind::Quicklook => "quicklook",
            OutputKind::Stats => "stats",
            OutputKind::Stage => "stage",
            OutputKind::RxNitrogen => "rx_nitrogen",
            OutputKind::RxNitrogenZones => "rx_nitrogen_zones",
            OutputKind::RxNitrogenPlots => "rx_nitrogen_plots",
            OutputKind::RxSpray => "rx_spray",
            OutputKind::RxSprayZones => "rx_spray_zones",
            OutputKind::RxSprayPlots => "rx_spray_plots",
            OutputKind::Isoxml => "isoxml",
            OutputKind::Summary => "summary",
            OutputKind::Report => "report",
        }
    }
}

impl std::fmt::Display for OutputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::OutputKind::{self, *};

    #[test]
    fn names_are_the_serialised_names() {
        let all = [
            Index,
            Style,
            Quicklook,
            Stats,
            Stage,
            RxNitrogen,
            RxNitrogenZones,
            RxNitrogenPlots,
            RxSpray,
            RxSprayZones,
            RxSprayPlots,
            Isoxml,
            Summary,
            Report,
        ];
        for k in all {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<OutputKind>(&json).unwrap(), k);
        }
    }
}
