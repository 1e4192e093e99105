//! Drawing on RGB images with a built-in 5×7 bitmap font (shared by charts and quicklooks).
