//! Pure slice kernels: no GDAL, no allocation. Each writes `NaN` where the formula is undefined
//! (0/0, ±inf, square root of a negative number); the engine turns those into the output's nodata.
//!
//! ```
//! let (nir, red) = ([0.5_f32, 0.3], [0.1_f32, 0.3]);
//! let mut out = [0.0_f32; 2];
//! paddy::kernels::normalized_difference(&nir, &red, &mut out);
//! assert!((out[0] - 0.6666667).abs() < 1e-6);
//! assert_eq!(out[1], 0.0);
//! ```

mod dispatch;
pub mod expr;
mod indices;

pub use dispatch::{Formula, Kernel, HAND_WRITTEN};
pub use indices::*;
