//! The `tvgate` binary.

fn main() {
    std::process::exit(tvgate::main_entry());
}
