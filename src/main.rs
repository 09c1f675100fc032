//! The `tvgate` binary.

// mimalloc: small, frequent allocations on every request are markedly
// cheaper than glibc's, and memory from the argon2 blocking threads goes
// back instead of staying in per-thread arenas.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(tvgate::main_entry());
}
