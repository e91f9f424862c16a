//! Leaving LeanCloud: `export` pulls an app's conversations and history from its
//! REST API; `import` loads such an export (or LeanCloud's console export) into the
//! store.

pub mod export;
pub mod import;
mod input;
mod records;
