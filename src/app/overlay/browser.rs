//! The saved-conversations overlay: every journal's summary, a search query typed into
//! it, and the selected hit.

use crate::store::Summary;

#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub(crate) all: Vec<Summary>,
    pub(crate) query: String,
    pub(crate) selected: usize,
    /// Why the list could not be read, if it could not.
    pub(crate) error: Option<String>,
}

impl Browser {
    /// The conversations matching the query (all of them for an empty one), newest first.
    pub fn hits(&self) -> Vec<&Summary> {
        crate::store::list::search(&self.all, &self.query)
    }
    pub fn query(&self) -> &str {
        &self.query
    }
    /// Index into [`Browser::hits`].
    pub fn selected(&self) -> usize {
        self.selected
    }
    pub fn total(&self) -> usize {
        self.all.len()
    }
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}
