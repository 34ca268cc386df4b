//! Reports built from a final snapshot: text for people, JSON for scripts.

pub mod format;
pub mod json;
pub mod text;
