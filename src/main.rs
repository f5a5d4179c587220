//! `rbn`: see `rbn --help`.

fn main() {
    if let Err(error) = rbn_registry::cli::run(std::env::args().skip(1).collect()) {
        if !error.message.is_empty() {
            eprintln!("rbn: {error}");
        }
        std::process::exit(error.code);
    }
}
