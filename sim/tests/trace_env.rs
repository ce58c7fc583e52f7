//! `NITROUS_TRACE=<file>` turns tracing on for every `Sim`, one file per
//! instance. Its own test binary: the variable is process-wide.
#![cfg(nsim_top_sim_selftest)]

use nitrous_sim::models::{SimSelftest, TRACE_FORMAT};
use nitrous_sim::{Model, Sim};

#[test]
fn env_var_traces_each_instance_to_its_own_file() {
    let dir = std::env::temp_dir().join(format!("nitrous-sim-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join(format!("run.{TRACE_FORMAT}"));
    std::env::set_var("NITROUS_TRACE", &base);
    let mut a = Sim::<SimSelftest>::new().unwrap();
    let mut b = Sim::<SimSelftest>::new().unwrap();
    std::env::remove_var("NITROUS_TRACE");
    let c = Sim::<SimSelftest>::new().unwrap();
    let second = dir.join(format!("run-1.{TRACE_FORMAT}"));
    assert_eq!(a.trace_path(), Some(base.as_path()));
    assert_eq!(b.trace_path(), Some(second.as_path()));
    assert!(a.is_tracing() && b.is_tracing());
    assert!(c.trace_path().is_none() && !c.is_tracing());
    a.ticks(100);
    b.ticks(100);
    drop((a, b, c));
    for f in [&base, &second] {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len > 0, "{} is empty", f.display());
    }
    let _ = std::fs::remove_dir_all(dir);
}
