//! What the source documents state about the Regionale Bildungsnetzwerke as a whole — above all how many
//! there were when — each statement quoting its document: the `facts` section of a dataset, served in
//! `GET /v1`. The registry names only the networks the documents name; these statements say how many the
//! documents speak of.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::common::{PartialDate, Source};
use super::fields::DistrictKey;
use super::validation::{Fields, MAX_TEXT, ValidationErrors};

/// One statement of a source document, quoted, with the number it gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fact {
    /// What the document says, in German, quoting it and naming the document.
    #[schema(
        example = "„Grundlage der 43 Bildungsnetzwerke in Nordrhein-Westfalen ist jeweils ein Kooperationsvertrag zwischen Land und Kommune.“ (Dokument 001, Düsseldorf, 6. Mai 2010)",
        max_length = 5000
    )]
    pub statement: String,
    /// The number the statement gives (networks, contracts or Kreise, as the statement says); `null` when
    /// it gives none.
    #[schema(example = 43, minimum = 0)]
    pub count: Option<i64>,
    /// The date the statement refers to, as precisely as the document gives it; `null` when it gives none.
    pub date: Option<PartialDate>,
    /// The Regierungsbezirk the statement is about; `null`: the whole of Nordrhein-Westfalen.
    #[schema(example = 1)]
    pub district_key: Option<i32>,
    /// The documents that state it (at least one).
    pub sources: Vec<Source>,
}

impl Fact {
    pub const FIELDS: &'static [&'static str] = &["statement", "count", "date", "districtKey", "sources"];

    /// Reads one fact, reporting every problem.
    pub fn parse(value: &Value) -> Result<Fact, ValidationErrors> {
        let mut f = Fields::new(value, Self::FIELDS, &[]);
        let statement = f.string("statement", MAX_TEXT);
        let count = f.opt_integer("count");
        if count.is_some_and(|c| c < 0) {
            f.error("count", "must not be negative");
        }
        let date = f.opt_date("date");
        let district_key = f.opt_district_key("districtKey").map(DistrictKey::get);
        let given = value.get("sources").and_then(Value::as_array).map_or(0, Vec::len);
        let sources = f.sources("sources");
        if given == 0 {
            f.error("sources", "a fact names at least one source document");
        }
        let fact = statement.map(|statement| Fact { statement, count, date, district_key, sources });
        f.finish(fact)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_fact_needs_a_statement_and_a_source() {
        let errors = Fact::parse(&json!({"count": -1, "districtKey": 2, "sources": [], "extra": 1})).unwrap_err().0;
        let mut fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort();
        assert_eq!(fields, ["count", "districtKey", "extra", "sources", "statement"]);
        let fact = Fact::parse(&json!({"statement": "„…“", "count": 52, "sources": [{"title": "T"}]})).unwrap();
        assert_eq!((fact.count, fact.date, fact.district_key), (Some(52), None, None));
    }
}
