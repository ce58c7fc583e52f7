//! [`Sim`]: a clock driver around a [`Model`].

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{Error, Model, PortDir, Result};

/// Trace time units per half clock period: cycle `c` has its falling-edge
/// sample at `2 * HALF_PERIOD * c` and its rising-edge sample
/// `HALF_PERIOD` later.
pub const HALF_PERIOD: u64 = 5;

/// Environment variable naming a waveform file; when set, every [`Sim`]
/// traces (see [`Sim::new`]).
pub const TRACE_ENV: &str = "NITROUS_TRACE";

/// Number of `Sim`s traced through [`TRACE_ENV`] in this process so far.
static ENV_TRACES: AtomicUsize = AtomicUsize::new(0);

/// Clock driver for a model with a 1-bit input `clock` (and optionally a
/// synchronous active-high `reset`).
///
/// Derefs to the model, so typed accessors work directly on the `Sim`:
/// `sim.set_in_data(x); sim.tick(); sim.out_data()`.
pub struct Sim<M: Model> {
    model: M,
    clock: usize,
    reset: Option<usize>,
    cycle: u64,
    trace: Option<PathBuf>,
}

impl<M: Model> Sim<M> {
    /// A new model under a clock driver. If `NITROUS_TRACE=<file>` is set,
    /// tracing starts at once: the first traced instance in the process
    /// writes `<file>`, later ones `<stem>-1.<ext>`, `<stem>-2.<ext>`, ...
    pub fn new() -> Result<Self> {
        Self::with_model(M::new())
    }

    /// Wraps an existing model (see [`Sim::new`] for `NITROUS_TRACE`).
    pub fn with_model(model: M) -> Result<Self> {
        let port_err = |what: String| Error::Port {
            model: M::NAME,
            what,
        };
        let (clock, cp) = M::port("clock").map_err(|_| port_err("no `clock` port".into()))?;
        if cp.width != 1 || cp.dir != PortDir::In {
            return Err(port_err("`clock` must be a 1-bit input".into()));
        }
        let reset = match M::port("reset") {
            Ok((i, p)) if p.width == 1 && p.dir == PortDir::In => Some(i),
            Ok(_) => return Err(port_err("`reset` must be a 1-bit input".into())),
            Err(_) => None,
        };
        let mut sim = Self {
            model,
            clock,
            reset,
            cycle: 0,
            trace: None,
        };
        // Establish clock = 0 so that the first tick is a rising edge.
        sim.model.raw_mut().set64(clock, 0);
        sim.model.eval();
        if let Some(path) = env_trace_path() {
            eprintln!("nitrous-sim: tracing {} to {}", M::NAME, path.display());
            sim.trace_to(&path)?;
        }
        Ok(sim)
    }

    /// Starts writing a waveform to `path` (format
    /// [`crate::models::TRACE_FORMAT`]; a `.fst`/`.vcd` extension that
    /// disagrees with it is an error). One sample per clock edge from the
    /// next [`Sim::tick`] on. Closed when the `Sim` is dropped.
    pub fn trace_to(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let built = crate::models::TRACE_FORMAT;
        if (ext == "fst" || ext == "vcd") && ext != built {
            return Err(Error::Trace {
                model: M::NAME,
                path: path.to_path_buf(),
                reason: format!(
                    "models were built for {built} traces \
                     (rebuild with NITROUS_SIM_TRACE_FORMAT={ext})"
                ),
            });
        }
        self.model.trace_open(path)?;
        self.trace = Some(path.to_path_buf());
        Ok(())
    }

    /// The waveform file, if tracing.
    pub fn trace_path(&self) -> Option<&Path> {
        self.trace.as_deref()
    }

    /// One clock cycle: clock low, eval, (sample), clock high, eval,
    /// (sample). Inputs set before the call are sampled by the rising edge;
    /// registered outputs show their new values afterwards.
    #[inline]
    pub fn tick(&mut self) {
        let raw = self.model.raw_mut();
        let t = 2 * HALF_PERIOD * self.cycle;
        self.cycle += 1;
        if raw.tick(t, HALF_PERIOD) {
            return;
        }
        raw.set64(self.clock, 0);
        raw.eval();
        raw.trace_dump(t);
        raw.set64(self.clock, 1);
        raw.eval();
        raw.trace_dump(t + HALF_PERIOD);
    }

    /// `n` clock cycles.
    pub fn ticks(&mut self, n: u64) {
        for _ in 0..n {
            self.tick();
        }
    }

    /// Re-evaluates combinational logic after changing inputs, without a
    /// clock edge (no waveform sample).
    pub fn settle(&mut self) {
        self.model.eval();
    }

    /// Holds `reset` high for `cycles` clock cycles, then low (and settles).
    /// Error if the top has no `reset` port.
    pub fn apply_reset(&mut self, cycles: u64) -> Result<()> {
        let r = self.reset.ok_or_else(|| Error::Port {
            model: M::NAME,
            what: "no `reset` port".into(),
        })?;
        self.model.raw_mut().set64(r, 1);
        self.ticks(cycles);
        self.model.raw_mut().set64(r, 0);
        self.model.eval();
        Ok(())
    }

    /// Ticks until `done(&model)` holds (checked before each tick), at most
    /// `max_cycles` ticks; returns the number of ticks taken.
    pub fn run_until(
        &mut self,
        max_cycles: u64,
        what: &str,
        mut done: impl FnMut(&M) -> bool,
    ) -> Result<u64> {
        for n in 0..=max_cycles {
            if done(&self.model) {
                return Ok(n);
            }
            if n < max_cycles {
                self.tick();
            }
        }
        Err(Error::Timeout {
            model: M::NAME,
            what: what.to_string(),
            cycles: max_cycles,
        })
    }

    /// Clock cycles ticked so far (including reset cycles).
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Current trace time (units of [`HALF_PERIOD`]-based time).
    pub fn time(&self) -> u64 {
        2 * HALF_PERIOD * self.cycle
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model, mutably.
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// Unwraps the model (its trace, if any, stays open until it drops).
    pub fn into_model(self) -> M {
        self.model
    }
}

impl<M: Model> Deref for Sim<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.model
    }
}

impl<M: Model> DerefMut for Sim<M> {
    fn deref_mut(&mut self) -> &mut M {
        &mut self.model
    }
}

impl<M: Model + std::fmt::Debug> std::fmt::Debug for Sim<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("cycle", &self.cycle)
            .field("trace", &self.trace)
            .field("model", &self.model)
            .finish()
    }
}

/// The trace file for the next `Sim` from `NITROUS_TRACE`, if set.
fn env_trace_path() -> Option<PathBuf> {
    let base = PathBuf::from(std::env::var_os(TRACE_ENV).filter(|v| !v.is_empty())?);
    let k = ENV_TRACES.fetch_add(1, Ordering::Relaxed);
    Some(numbered(&base, k))
}

/// `base` for k = 0, else `<stem>-<k>.<ext>` beside it.
fn numbered(base: &Path, k: usize) -> PathBuf {
    if k == 0 {
        return base.to_path_buf();
    }
    let stem = base
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match base.extension() {
        Some(e) => format!("{stem}-{k}.{}", e.to_string_lossy()),
        None => format!("{stem}-{k}"),
    };
    base.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::numbered;
    use std::path::Path;

    #[test]
    fn trace_files_are_numbered_per_instance() {
        let b = Path::new("/tmp/w/run.fst");
        assert_eq!(numbered(b, 0), Path::new("/tmp/w/run.fst"));
        assert_eq!(numbered(b, 1), Path::new("/tmp/w/run-1.fst"));
        assert_eq!(numbered(Path::new("x"), 2), Path::new("x-2"));
    }
}
