//! Tells the tests whether PostgreSQL is there: `cfg(rbn_postgres_tests)` when `TEST_DATABASE_URL` is set
//! (or `CI=true`, where it must be: there the PostgreSQL variants run and fail loudly without it).
//! Without it the PostgreSQL variants are reported as ignored, not as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(rbn_postgres_tests)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    if set("TEST_DATABASE_URL") || std::env::var("CI").is_ok_and(|v| v == "true") {
        println!("cargo::rustc-cfg=rbn_postgres_tests");
    }
}
