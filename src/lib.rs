//! The napi binding: thin glue from JS to leanrt-client.
