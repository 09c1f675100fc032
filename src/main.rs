//! The `tvgate` binary.
//!
//! mimalloc is the allocator: a request allocates and frees dozens of
//! small blocks (header maps, the query, the JSON), and mimalloc's
//! per-thread free lists cost fewer instructions per pair than glibc's.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(tvgate::main_entry());
}
