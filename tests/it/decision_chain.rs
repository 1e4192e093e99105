//! The decision chain on seasons with known truth: the satellite season gives each plot its
//! stage (`paddy stage`), the drone flight at panicle initiation its N status (`paddy
//! prescribe`), and the N-deficient paddies at panicle initiation must be the ones that get
//! nitrogen. `scripts/make-season-truth --flight` draws the season, the flight (NDRE with
//! N-deficient plots and two N-rich reference plots) and the truth.
//!
//! The score of a plot is the N rate paddy prescribes (none, outside the N window or not
//! observed, counts as 0); the AUC ranks the truly deficient plots at panicle initiation
//! against the adequate ones. The same flight prescribed with the true stages shows what the
//! stage estimate costs. Two flights of the same day: under a closed canopy NDRE follows leaf
//! N alone (the AUC must reach 0.9 with paddy's stages); with an open canopy it also follows
//! cover, which still grows through panicle initiation and differs between plots, so NDRE's
//! sufficiency index ranks worse whatever the stage (reported; the test holds only that the
//! stage estimate costs nothing there).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::common::{paddy_ok, rows};
use crate::season_truth::{generate, index_season, stage_on};

/// Seeds not used to tune anything.
const SEEDS: [&str; 3] = ["7", "21", "33"];
/// A day when about half the plots of a season are at panicle initiation.
const FLIGHT: &str = "2025-07-15";

/// Probability that a deficient plot's score beats an adequate one's (ties count half).
fn auc(deficient: &[f64], adequate: &[f64]) -> f64 {
    let mut wins = 0.0;
    for d in deficient {
        for a in adequate {
            wins += if d > a {
                1.0
            } else if d == a {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (deficient.len() * adequate.len()).max(1) as f64
}

#[test]
fn the_auc_counts_ties_as_half() {
    assert_eq!(auc(&[2.0, 3.0], &[1.0]), 1.0);
    assert_eq!(auc(&[1.0], &[1.0, 2.0]), 0.25);
    assert_eq!(auc(&[0.0], &[0.0]), 0.5);
}

/// Per route (which stage table), the scores of deficient and adequate plots at panicle
/// initiation, and the deficient ones left without nitrogen.
#[derive(Default)]
struct Route {
    deficient: Vec<f64>,
    adequate: Vec<f64>,
    deficient_unfed: Vec<String>,
}

#[test]
fn n_deficient_paddies_at_panicle_initiation_get_their_nitrogen() {
    let mut routes: HashMap<&str, Route> = HashMap::new();
    for seed in SEEDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        generate(dir, seed, &["--flight", FLIGHT]);
        let (ndvi, lswi) = index_season(dir);
        stage_on(
            dir,
            (&ndvi, &lswi),
            "plots.geojson",
            FLIGHT,
            &["--out", "stage.csv"],
        );

        let truth: Vec<HashMap<String, String>> =
            rows(&std::fs::read_to_string(dir.join("truth_n.csv")).unwrap());
        let season: HashMap<String, HashMap<String, String>> =
            rows(&std::fs::read_to_string(dir.join("truth.csv")).unwrap())
                .into_iter()
                .map(|r| (r["plot_id"].clone(), r))
                .collect();
        // The true stage table, in paddy stage's columns.
        let mut oracle = String::from("plot_id,class,stage,days_after_transplanting,at\n");
        for t in &truth {
            let s = &season[&t["plot_id"]];
            let dat = crate::common::day(FLIGHT) - crate::common::day(&s["transplanting"]);
            writeln!(
                oracle,
                "{},{},{},{dat},{FLIGHT}",
                t["plot_id"], s["duration_class"], t["stage"]
            )
            .unwrap();
        }
        std::fs::write(dir.join("oracle.csv"), oracle).unwrap();

        // The same season and N draw with a closed-canopy flight, in closed/.
        let closed = dir.join("closed");
        generate(
            &closed,
            seed,
            &["--flight", FLIGHT, "--flight-canopy", "closed"],
        );
        let name = format!("drone_{}_ndre.tif", FLIGHT.replace('-', ""));
        let open_ndre = name.clone();
        let closed_ndre = format!("closed/{name}");
        for (route, table, ndre) in [
            ("open canopy, paddy stage", "stage.csv", &open_ndre),
            ("open canopy, true stage", "oracle.csv", &open_ndre),
            ("closed canopy, paddy stage", "stage.csv", &closed_ndre),
            ("closed canopy, true stage", "oracle.csv", &closed_ndre),
        ] {
            let out = format!("rx_{}", route.replace([' ', ','], "_"));
            paddy_ok(
                dir,
                &[
                    "prescribe",
                    "--plots",
                    "plots.geojson",
                    "--at",
                    FLIGHT,
                    "--stages",
                    table,
                    "--n-index",
                    ndre,
                    "--reference-field",
                    "role",
                    "--reference-value",
                    "n_rich",
                    "--out",
                    &out,
                    "-q",
                ],
            );
            let rates: HashMap<String, f64> =
                rows(&std::fs::read_to_string(dir.join(&out).join("rx_summary.csv")).unwrap())
                    .into_iter()
                    .map(|r| {
                        let rate = r["n_kg_ha"].parse::<f64>().unwrap_or(0.0);
                        (r["plot_id"].clone(), rate)
                    })
                    .collect();
            let r = routes.entry(route).or_default();
            for t in truth.iter().filter(|t| t["stage"] == "panicle_initiation") {
                let rate = rates[&t["plot_id"]];
                match t["n_status"].as_str() {
                    "deficient" => {
                        r.deficient.push(rate);
                        if rate <= 0.0 {
                            r.deficient_unfed.push(format!("{seed}:{}", t["plot_id"]));
                        }
                    }
                    "adequate" => r.adequate.push(rate),
                    _ => {}
                }
            }
        }
    }
    println!(
        "decision chain (seeds {}, flight {FLIGHT}): plots truly at panicle initiation",
        SEEDS.join(",")
    );
    println!(
        "| flight, stages from | deficient | adequate | deficient without N | AUC of the N rate |"
    );
    println!("|---|---|---|---|---|");
    let mut names: Vec<&str> = routes.keys().copied().collect();
    names.sort();
    for route in names {
        let r = &routes[route];
        println!(
            "| {route} | {} | {} | {} {:?} | {:.3} |",
            r.deficient.len(),
            r.adequate.len(),
            r.deficient_unfed.len(),
            r.deficient_unfed,
            auc(&r.deficient, &r.adequate)
        );
    }
    // What the stage estimate costs, under either canopy: no deficient plot at panicle
    // initiation loses its N to a wrong stage, and the ranking is as good as with the true
    // stages.
    for canopy in ["open canopy", "closed canopy"] {
        let ours = &routes[format!("{canopy}, paddy stage").as_str()];
        let truth = &routes[format!("{canopy}, true stage").as_str()];
        assert!(ours.deficient.len() >= 8 && ours.adequate.len() >= 8);
        assert_eq!(ours.deficient_unfed, truth.deficient_unfed, "{canopy}");
        let (a, b) = (
            auc(&ours.deficient, &ours.adequate),
            auc(&truth.deficient, &truth.adequate),
        );
        assert!(
            a >= b - 0.02,
            "{canopy}: AUC {a:.3} with paddy's stages, {b:.3} with the true ones"
        );
    }
    let closed = &routes["closed canopy, paddy stage"];
    let a = auc(&closed.deficient, &closed.adequate);
    assert!(a >= 0.9, "closed canopy: AUC {a:.3} with paddy's stages");
}
