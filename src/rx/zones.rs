//! Spray zones: stress anomalies cleaned into sprayable zones on a cell grid (pure, no GDAL).
