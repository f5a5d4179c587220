//! The editable kinds of record, listed once.
//!
//! Everything that handles "every kind" — routes, the OpenAPI document, exports, discovery, the change
//! feed — does it by visiting this list: it implements [`KindVisitor`], whose one generic method is called
//! with each kind's type, and passes itself to [`for_each_kind`]. Code that starts from a kind's *name*
//! (`/v1/exports/{file}`, a change feed entry) uses [`with_kind`], which visits only the kind of that name.
//!
//! Nothing else matches on the editable kinds, so a kind that is not in the list cannot be reached, and
//! adding one means adding its line below, its `ResourceKind` and its own domain, storage and row
//! modules. One exception: the dataset file (`domain::dataset`, `storage::dataset`) names its sections
//! one by one, in the order an import needs (referenced kinds first), which is not this one.
//!
//! ```
//! use rbn_registry::storage::Table;
//! use rbn_registry::storage::kinds::{KindVisitor, for_each_kind};
//!
//! /// The kinds' names, as in paths.
//! struct Names(Vec<&'static str>);
//!
//! impl KindVisitor for Names {
//!     fn visit<R: Table>(&mut self) {
//!         self.0.push(R::KIND.as_str());
//!     }
//! }
//!
//! let mut names = Names(Vec::new());
//! for_each_kind(&mut names);
//! assert_eq!(names.0[0], "networks");
//! ```

use super::table::Table;
use crate::domain::{Body, Contact, Contract, Handlungsfeld, Meeting, Network, ResourceKind};

/// Something done once per editable kind; `R` is the kind's record type (its storage, filter, schema
/// and `KIND` all hang off it).
pub trait KindVisitor {
    fn visit<R: Table>(&mut self);
}

/// Calls `visitor` with every editable kind, in the order the API presents them (discovery, the OpenAPI
/// document, messages that name the kinds).
pub fn for_each_kind(visitor: &mut impl KindVisitor) {
    visitor.visit::<Network>();
    visitor.visit::<Contract>();
    visitor.visit::<Body>();
    visitor.visit::<Handlungsfeld>();
    visitor.visit::<Contact>();
    visitor.visit::<Meeting>();
}

/// Calls `visitor` with the editable kind `kind`, if it is one; returns whether it was.
pub fn with_kind(kind: ResourceKind, visitor: &mut impl KindVisitor) -> bool {
    struct Only<'a, V> {
        kind: ResourceKind,
        inner: &'a mut V,
        found: bool,
    }
    impl<V: KindVisitor> KindVisitor for Only<'_, V> {
        fn visit<R: Table>(&mut self) {
            if R::KIND == self.kind {
                self.found = true;
                self.inner.visit::<R>();
            }
        }
    }
    let mut only = Only { kind, inner: visitor, found: false };
    for_each_kind(&mut only);
    only.found
}

/// The editable kinds, in the order of [`for_each_kind`].
pub fn editable_kinds() -> Vec<ResourceKind> {
    struct Kinds(Vec<ResourceKind>);
    impl KindVisitor for Kinds {
        fn visit<R: Table>(&mut self) {
            self.0.push(R::KIND);
        }
    }
    let mut kinds = Kinds(Vec::new());
    for_each_kind(&mut kinds);
    kinds.0
}

/// Their names as in paths (`networks`, …), in the same order.
pub fn editable_names() -> Vec<&'static str> {
    editable_kinds().iter().map(ResourceKind::as_str).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `ResourceKind` that is not reference data but missing from the list would have no routes, no
    /// OpenAPI operations, no export and no records in the change feed.
    #[test]
    fn every_kind_but_the_reference_data_is_in_the_list() {
        let mut listed = editable_names();
        listed.sort_unstable();
        let mut expected = ResourceKind::editable_names();
        expected.sort_unstable();
        assert_eq!(listed, expected);
        assert!(editable_kinds().iter().all(|&kind| with_kind(kind, &mut Nothing)));
        assert!(!with_kind(ResourceKind::Regions, &mut Nothing));
    }

    struct Nothing;

    impl KindVisitor for Nothing {
        fn visit<R: Table>(&mut self) {}
    }
}
