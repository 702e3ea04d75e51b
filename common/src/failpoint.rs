//! Named crash points for tests: [`failpoint`] aborts the process at a step when the
//! environment variable says so, so tests can prove that a crash there leaves nothing
//! half-done. Unset, it costs one environment lookup.

/// Aborts the process when the environment variable `var` equals `step`.
pub fn failpoint(var: &str, step: &str) {
    if std::env::var_os(var).is_some_and(|v| v == step) {
        std::process::abort();
    }
}
