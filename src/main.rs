//! `rbn`: see `rbn --help`.

use std::io::Write;

fn main() {
    let code = match rbn_registry::cli::run(std::env::args().skip(1).collect()) {
        Ok(()) => 0,
        Err(error) => {
            if !error.message.is_empty() {
                eprintln!("rbn: {error}");
            }
            error.code
        }
    };
    // Leave without the C library's exit handlers: OpenSSL's clean-up frees what a database pool thread
    // may still be using to open a connection (a crash at exit, seen with PostgreSQL). Everything is
    // committed and every file closed by now; only the standard streams need flushing.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process at once; nothing runs after it that could observe freed state.
    unsafe { libc::_exit(code) }
}
