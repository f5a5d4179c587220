//! The map's geometry: the boundaries of the 53 Kreise and kreisfreie Städte (`data/geo/`, BKG VG5000),
//! projected once into SVG path data.
//!
//! The projection is equirectangular with the longitude scaled by the cosine of NRW's middle latitude:
//! at the size of one Land, that is indistinguishable from a conformal projection, and it keeps this code
//! a few lines long. Coordinates are rounded to whole units of a 1000 units wide drawing (about 250 m);
//! points that fall together after rounding are dropped, and the paths are written in relative steps, so
//! the map stays small (about 20 KB for all of NRW).

use std::sync::LazyLock;

use serde_json::Value;

/// The GeoJSON file (WGS 84, keyed by Kreisschlüssel), embedded in the binary.
const GEOJSON: &str = include_str!("../../../data/geo/nrw-kreise.geojson");

/// Width of the drawing of the whole Land, in SVG user units.
const WIDTH: f64 = 1000.0;

/// A rectangle in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min_x: f64,
    pub min_y: f64,
    pub max_x: f64,
    pub max_y: f64,
}

impl Bounds {
    const EMPTY: Bounds =
        Bounds { min_x: f64::INFINITY, min_y: f64::INFINITY, max_x: f64::NEG_INFINITY, max_y: f64::NEG_INFINITY };

    fn add(&mut self, x: f64, y: f64) {
        self.min_x = self.min_x.min(x);
        self.min_y = self.min_y.min(y);
        self.max_x = self.max_x.max(x);
        self.max_y = self.max_y.max(y);
    }

    fn union(mut self, other: &Bounds) -> Bounds {
        self.add(other.min_x, other.min_y);
        self.add(other.max_x, other.max_y);
        self
    }

    /// The `viewBox` attribute for this rectangle with a margin of `margin` units on every side.
    pub fn view_box(&self, margin: f64) -> String {
        let (x, y) = ((self.min_x - margin).floor(), (self.min_y - margin).floor());
        let (w, h) = ((self.max_x + margin).ceil() - x, (self.max_y + margin).ceil() - y);
        format!("{x} {y} {w} {h}")
    }
}

/// One Kreis or kreisfreie Stadt.
#[derive(Debug, Clone)]
pub struct Area {
    /// The 5-digit Kreisschlüssel, as in `/v1/regions`.
    pub key: String,
    /// The SVG path data of its boundary (one sub-path per ring).
    pub path: String,
    pub bounds: Bounds,
}

impl Area {
    /// The key of its Regierungsbezirk: the third digit of the Kreisschlüssel.
    pub fn district_key(&self) -> i32 {
        self.key.as_bytes().get(2).map_or(0, |digit| i32::from(digit.wrapping_sub(b'0')))
    }
}

/// The whole map.
#[derive(Debug)]
pub struct Geometry {
    pub areas: Vec<Area>,
    pub bounds: Bounds,
}

impl Geometry {
    /// The bounds of the areas of one Regierungsbezirk (all areas for `None`).
    pub fn bounds_of(&self, district: Option<i32>) -> Bounds {
        match district {
            None => self.bounds,
            Some(key) => self
                .areas
                .iter()
                .filter(|area| area.district_key() == key)
                .fold(Bounds::EMPTY, |bounds, area| bounds.union(&area.bounds)),
        }
    }

    pub fn area(&self, key: &str) -> Option<&Area> {
        self.areas.iter().find(|area| area.key == key)
    }
}

/// The map of NRW, projected on first use.
pub fn nrw() -> &'static Geometry {
    static GEOMETRY: LazyLock<Geometry> =
        LazyLock::new(|| project(GEOJSON).expect("data/geo/nrw-kreise.geojson is a FeatureCollection of polygons"));
    &GEOMETRY
}

/// The rings of a Polygon or MultiPolygon geometry, as lists of (longitude, latitude).
fn rings(geometry: &Value) -> Option<Vec<Vec<(f64, f64)>>> {
    let ring = |ring: &Value| -> Option<Vec<(f64, f64)>> {
        ring.as_array()?.iter().map(|point| Some((point.get(0)?.as_f64()?, point.get(1)?.as_f64()?))).collect()
    };
    let polygon = |polygon: &Value| -> Option<Vec<Vec<(f64, f64)>>> { polygon.as_array()?.iter().map(ring).collect() };
    let coordinates = geometry.get("coordinates")?;
    match geometry.get("type")?.as_str()? {
        "Polygon" => polygon(coordinates),
        "MultiPolygon" => Some(
            coordinates.as_array()?.iter().map(polygon).collect::<Option<Vec<_>>>()?.into_iter().flatten().collect(),
        ),
        _ => None,
    }
}

/// Projects a GeoJSON FeatureCollection (with a `key` property per feature) into SVG paths.
pub fn project(geojson: &str) -> Option<Geometry> {
    let document: Value = serde_json::from_str(geojson).ok()?;
    let mut features = Vec::new();
    for feature in document.get("features")?.as_array()? {
        let key = feature.get("properties")?.get("key")?.as_str()?.to_string();
        features.push((key, rings(feature.get("geometry")?)?));
    }
    let (mut west, mut east, mut south, mut north) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (lon, lat) in features.iter().flat_map(|(_, rings)| rings.iter().flatten()) {
        (west, east, south, north) = (west.min(*lon), east.max(*lon), south.min(*lat), north.max(*lat));
    }
    let x_factor = ((south + north) / 2.0).to_radians().cos();
    let scale = WIDTH / ((east - west) * x_factor);
    let to_svg = |(lon, lat): (f64, f64)| (((lon - west) * x_factor * scale).round(), ((north - lat) * scale).round());

    let mut areas = Vec::with_capacity(features.len());
    let mut all = Bounds::EMPTY;
    for (key, rings) in features {
        let mut path = String::new();
        let mut bounds = Bounds::EMPTY;
        for ring in rings {
            // The first point absolute, then relative steps: whole numbers of a few digits each, the pairs
            // after `l` need no command letter, and a minus sign separates numbers by itself.
            let mut previous: Option<(f64, f64)> = None;
            for point in ring.into_iter().map(to_svg) {
                match previous {
                    None => path.push_str(&format!("M{} {}l", point.0, point.1)),
                    Some(last) if last == point => continue,
                    Some(last) => {
                        for delta in [point.0 - last.0, point.1 - last.1] {
                            if delta >= 0.0 && !path.ends_with('l') {
                                path.push(' ');
                            }
                            path.push_str(&format!("{delta}"));
                        }
                    }
                }
                bounds.add(point.0, point.1);
                previous = Some(point);
            }
            if previous.is_some() {
                path.push('z');
            }
        }
        all = all.union(&bounds);
        areas.push(Area { key, path, bounds });
    }
    Some(Geometry { areas, bounds: all })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_has_the_53_regions_of_nrw() {
        let map = nrw();
        assert_eq!(map.areas.len(), 53);
        for key in crate::domain::reference::REGION_KEYS {
            let area = map.area(key).unwrap_or_else(|| panic!("{key} is on the map"));
            assert!(area.path.starts_with('M') && area.path.ends_with('z'));
            assert!([1, 3, 5, 7, 9].contains(&area.district_key()));
        }
        assert_eq!(map.bounds.min_x, 0.0);
        assert_eq!(map.bounds.max_x, WIDTH);
        // NRW is a little less tall than wide.
        assert!(map.bounds.max_y > 800.0 && map.bounds.max_y < 1000.0, "{:?}", map.bounds);
    }

    #[test]
    fn a_district_has_its_own_bounds() {
        let map = nrw();
        let muenster = map.bounds_of(Some(5));
        let arnsberg = map.bounds_of(Some(9));
        assert!(muenster.min_y < arnsberg.min_y, "Münster lies north of Arnsberg");
        assert!(muenster.max_x - muenster.min_x < WIDTH);
        assert_eq!(map.bounds_of(None), map.bounds);
    }

    #[test]
    fn projection_of_a_square() {
        let geometry = project(
            r#"{"features":[{"properties":{"key":"05111"},"geometry":{"type":"Polygon","coordinates":[[[6,51],[7,51],[7,52],[6,52],[6,51]]]}}]}"#,
        )
        .unwrap();
        let h = geometry.bounds.max_y;
        assert_eq!(geometry.areas[0].path, format!("M0 {h}l1000 0 0-{h}-1000 0 0 {h}z"));
    }
}
