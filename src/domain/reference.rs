//! Read-only reference data: the five Regierungsbezirke and the 53 Kreise and kreisfreie Städte of NRW.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::common::{Timestamp, string_enum};

string_enum! {
    /// The kind of a region.
    RegionKind { Kreis = "kreis", KreisfreieStadt = "kreisfreie_stadt", Staedteregion = "staedteregion" }
}

/// A Regierungsbezirk, keyed by the third digit of the Kreisschlüssel.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct District {
    pub id: Uuid,
    #[schema(example = 1)]
    pub key: i32,
    #[schema(example = "Düsseldorf")]
    pub name: String,
    #[schema(example = "Bezirksregierung Düsseldorf")]
    pub authority: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A Kreis, kreisfreie Stadt or the StädteRegion Aachen.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub id: Uuid,
    /// Kreisschlüssel (5 digits).
    #[schema(example = "05158")]
    pub key: String,
    /// Amtlicher Regionalschlüssel (12 digits).
    #[schema(example = "051580000000")]
    pub ars: String,
    #[schema(example = "Kreis Mettmann")]
    pub name: String,
    pub kind: RegionKind,
    #[schema(example = 1)]
    pub district_key: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The Kreisschlüssel of the 53 Kreise and kreisfreie Städte of NRW (the regions table holds their names).
pub const REGION_KEYS: [&str; 53] = [
    "05111", "05112", "05113", "05114", "05116", "05117", "05119", "05120", "05122", "05124", "05154", "05158",
    "05162", "05166", "05170", "05314", "05315", "05316", "05334", "05358", "05362", "05366", "05370", "05374",
    "05378", "05382", "05512", "05513", "05515", "05554", "05558", "05562", "05566", "05570", "05711", "05754",
    "05758", "05762", "05766", "05770", "05774", "05911", "05913", "05914", "05915", "05916", "05954", "05958",
    "05962", "05966", "05970", "05974", "05978",
];

/// The keys of the five Regierungsbezirke.
pub const DISTRICT_KEYS: [i32; 5] = [1, 3, 5, 7, 9];
