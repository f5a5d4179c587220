//! Writes a dataset file piece by piece: the head, then each section record by record, then the facts.
//!
//! The bytes are those `serde_json`'s pretty printer gives the whole document (two spaces per level,
//! `"key": value`, `[]` for an empty list) followed by a line break, so a file written in pieces is
//! identical to one rendered at once, and `export → import → export` stays byte for byte the same.

use std::io::{self, Write};

use serde::Serialize;

use super::{FORMAT, FORMAT_VERSION, licence};
use crate::domain::Fact;

/// One level of indentation of the pretty printer.
const INDENT: &[u8] = b"  ";

/// A dataset file being written into `W`.
pub struct DatasetWriter<W: Write> {
    out: W,
    /// Whether the open section has a record yet (`None`: no section is open).
    section_has_records: Option<bool>,
}

impl<W: Write> DatasetWriter<W> {
    /// Writes the head: `format`, `formatVersion` and `licence`.
    pub fn start(mut out: W) -> io::Result<Self> {
        out.write_all(b"{\n  \"format\": ")?;
        serde_json::to_writer(&mut out, FORMAT)?;
        write!(out, ",\n  \"formatVersion\": {FORMAT_VERSION},\n  \"licence\": ")?;
        write_pretty(&mut out, &licence(), 1)?;
        Ok(DatasetWriter { out, section_has_records: None })
    }

    /// Opens the section `name` (closing the one before); its records follow with [`DatasetWriter::record`].
    pub fn section(&mut self, name: &str) -> io::Result<()> {
        self.close_section()?;
        self.out.write_all(b",\n  ")?;
        serde_json::to_writer(&mut self.out, name)?;
        self.out.write_all(b": [")?;
        self.section_has_records = Some(false);
        Ok(())
    }

    /// Appends one record to the open section.
    pub fn record(&mut self, record: &impl Serialize) -> io::Result<()> {
        let first = !self.section_has_records.replace(true).unwrap_or(true);
        self.out.write_all(if first { b"\n" } else { b",\n" })?;
        self.out.write_all(INDENT)?;
        self.out.write_all(INDENT)?;
        write_pretty(&mut self.out, record, 2)
    }

    /// Closes the open section, writes the `facts` section and the end of the document; returns the output.
    pub fn finish(mut self, facts: &[Fact]) -> io::Result<W> {
        self.close_section()?;
        self.out.write_all(b",\n  \"facts\": ")?;
        write_pretty(&mut self.out, &facts, 1)?;
        self.out.write_all(b"\n}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn close_section(&mut self) -> io::Result<()> {
        if let Some(has_records) = self.section_has_records.take() {
            if has_records {
                self.out.write_all(b"\n")?;
                self.out.write_all(INDENT)?;
            }
            self.out.write_all(b"]")?;
        }
        Ok(())
    }
}

/// `value` pretty-printed as the value of a document `depth` levels deep: every line after the first is
/// indented by the levels above it. JSON text has no raw line breaks inside strings, so every `\n` of the
/// printer's output starts a line.
fn write_pretty(out: &mut impl Write, value: &impl Serialize, depth: usize) -> io::Result<()> {
    // The value as a document of its own: records go through `serde_json::Value`, as they always have
    // (the same field order and number formatting as the rest of the API).
    let value = serde_json::to_value(value)?;
    let text = serde_json::to_vec_pretty(&value)?;
    let mut lines = text.split(|&b| b == b'\n');
    if let Some(first) = lines.next() {
        out.write_all(first)?;
    }
    for line in lines {
        out.write_all(b"\n")?;
        for _ in 0..depth {
            out.write_all(INDENT)?;
        }
        out.write_all(line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// What the export wrote before it streamed: the whole document, rendered at once.
    fn rendered_at_once(sections: &[(&str, Vec<Value>)], facts: &Value) -> Vec<u8> {
        let mut document = serde_json::Map::new();
        document.insert("format".into(), json!(FORMAT));
        document.insert("formatVersion".into(), json!(FORMAT_VERSION));
        document.insert("licence".into(), licence());
        for (name, records) in sections {
            document.insert(name.to_string(), Value::Array(records.clone()));
        }
        document.insert("facts".into(), facts.clone());
        let mut bytes = serde_json::to_vec_pretty(&Value::Object(document)).unwrap();
        bytes.push(b'\n');
        bytes
    }

    #[test]
    fn pieces_make_the_document_rendered_at_once() {
        let record = json!({"id": "a", "name": "Kreis \"Düren\"\nSüd", "sources": [{"document": "001", "note": null}],
            "address": {"street": "Hauptstraße 1", "lines": []}, "empty": {}, "n": 1.5, "ids": ["x", "y"]});
        let sections = [
            ("handlungsfelder", vec![]),
            ("networks", vec![record.clone()]),
            ("bodies", vec![record.clone(), json!({"id": "b"}), record.clone()]),
            ("contracts", vec![]),
            ("contacts", vec![json!({"id": "c", "nested": [[1, 2], [], {"deep": [{"x": null}]}]})]),
        ];
        let facts: Vec<Fact> = serde_json::from_value(json!([])).unwrap();
        let streamed = streamed(&sections, &facts);
        let expected = rendered_at_once(&sections, &json!([]));
        assert_eq!(String::from_utf8(streamed).unwrap(), String::from_utf8(expected).unwrap());
    }

    /// The document the writer streams, section by section and record by record.
    fn streamed(sections: &[(&str, Vec<Value>)], facts: &[Fact]) -> Vec<u8> {
        let mut writer = DatasetWriter::start(Vec::new()).unwrap();
        for (name, records) in sections {
            writer.section(name).unwrap();
            for record in records {
                writer.record(record).unwrap();
            }
        }
        writer.finish(facts).unwrap()
    }

    #[test]
    fn the_seed_is_written_as_it_was_rendered() {
        let seed: Value = serde_json::from_str(include_str!("../../../data/seed.json")).unwrap();
        let names = ["handlungsfelder", "networks", "bodies", "contracts", "contacts"];
        let sections: Vec<(&str, Vec<Value>)> =
            names.iter().map(|name| (*name, seed[*name].as_array().cloned().unwrap_or_default())).collect();
        let facts: Vec<Fact> = serde_json::from_value(seed["facts"].clone()).unwrap();
        let streamed = streamed(&sections, &facts);
        let expected = rendered_at_once(&sections, &serde_json::to_value(&facts).unwrap());
        assert_eq!(String::from_utf8(streamed).unwrap(), String::from_utf8(expected).unwrap());
    }
}
