//! Which inputs go together: several complete stacks given at once are each processed on their
//! own (`drone_0626.tif drone_0718.tif` → `drone_0626_ndvi.tif`, `drone_0718_ndvi.tif`), with
//! each single-band file joined to the stack whose name it extends (`s2_0717_scl.tif` goes with
//! `s2_0717.tif`). Anything else that is ambiguous is refused, saying what each file is.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::{file_name, RasterInfo};
use crate::sensors::Profile;

/// The inputs split into sets that are each one `paddy index` run. One set (all inputs together,
/// as before) unless two or more inputs are multi-band stacks and no `--band` is given.
pub fn group_inputs(
    inputs: &[PathBuf],
    infos: &[RasterInfo],
    profile: &Profile,
    explicit_bands: bool,
    name: Option<&str>,
) -> Result<Vec<Vec<PathBuf>>> {
    let info = |p: &Path| infos.iter().find(|i| i.path == p);
    let is_stack = |p: &Path| info(p).is_some_and(|i| i.band_count > 1);
    let stacks: Vec<&PathBuf> = inputs.iter().filter(|p| is_stack(p)).collect();
    if explicit_bands || stacks.len() < 2 {
        return Ok(vec![inputs.to_vec()]);
    }
    let mut groups: Vec<Vec<PathBuf>> = stacks.iter().map(|s| vec![(*s).clone()]).collect();
    for single in inputs.iter().filter(|p| !is_stack(p)) {
        let owners: Vec<usize> = stacks
            .iter()
            .enumerate()
            .filter(|(_, s)| extends(single, s))
            .map(|(i, _)| i)
            .collect();
        match owners.as_slice() {
            [one] => groups[*one].push(single.clone()),
            _ => {
                let problem = if owners.is_empty() {
                    format!(
                        "{} is one band but its name extends none of the stacks' names, so it belongs to none of them",
                        file_name(single)
                    )
                } else {
                    format!(
                        "{} is one band whose name extends several stacks' names",
                        file_name(single)
                    )
                };
                return Err(Error::usage(format!(
                    "{} stacks and single bands given together: {}; {problem}. Name a stack's extra band STACK_<what>.tif, or give one stack per call with its bands",
                    stacks.len(),
                    describe_all(inputs, infos, profile)
                )));
            }
        }
    }
    if let (Some(name), true) = (name, groups.len() > 1) {
        return Err(Error::usage(format!(
            "the output name '{name}' names one set of outputs, but {} stacks were given ({}): each is written under its own stem; drop the name or give one stack",
            groups.len(),
            stacks
                .iter()
                .map(|s| file_name(s))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(groups)
}

/// True when `single`'s stem is `stack`'s stem followed by a separator and more
/// (`s2_0717_scl` extends `s2_0717`).
fn extends(single: &Path, stack: &Path) -> bool {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let (single, stack) = (stem(single), stem(stack));
    single
        .strip_prefix(&stack)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| matches!(c, '_' | '-' | '.' | ' '))
}

/// "a.tif: stack of 5 bands (B, G, R, RE1, N); b.tif: one band (SCL)" for every input.
pub fn describe_all(inputs: &[PathBuf], infos: &[RasterInfo], profile: &Profile) -> String {
    inputs
        .iter()
        .filter_map(|p| infos.iter().find(|i| &i.path == p))
        .map(|i| describe(i, profile))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What one file is, in words, with the roles the profile finds in it.
pub fn describe(info: &RasterInfo, profile: &Profile) -> String {
    let name = file_name(&info.path);
    let roles: Vec<String> = if info.band_count == 1 {
        profile
            .role_for(&info.descriptions[0])
            .or_else(|| profile.role_for(&name))
            .map(|r| r.symbol().to_string())
            .into_iter()
            .collect()
    } else {
        info.descriptions
            .iter()
            .filter_map(|d| profile.role_for(d))
            .map(|r| r.symbol().to_string())
            .collect()
    };
    let what = if info.band_count == 1 {
        "one band".to_string()
    } else {
        format!("stack of {} bands", info.band_count)
    };
    if roles.is_empty() {
        format!("{name}: {what}")
    } else {
        format!("{name}: {what} ({})", roles.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_band_file_extends_its_stack_at_a_separator() {
        let e = |a: &str, b: &str| extends(Path::new(a), Path::new(b));
        assert!(e("x/s2_0717_scl.tif", "x/s2_0717.tif"));
        assert!(e("s2_0717-SCL.tif", "s2_0717.tif"));
        assert!(!e("s2_07170_scl.tif", "s2_0717.tif"));
        assert!(!e("s2_0717.tif", "s2_0717.tif"));
        assert!(!e("s2_0627_scl.tif", "s2_0717.tif"));
    }
}
