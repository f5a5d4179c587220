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
