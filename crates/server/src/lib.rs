//! leanrt-server as a library.
