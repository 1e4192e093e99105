//! PNG quicklooks of classified rate maps with a legend.
