//! The leanrt client engine: everything below the JS API, usable from Rust alone.
