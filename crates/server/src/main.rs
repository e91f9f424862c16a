//! The `leanrt-server` binary: see `leanrt_server::cli_main`.

fn main() {
    std::process::exit(leanrt_server::cli_main(std::env::args().collect()));
}
