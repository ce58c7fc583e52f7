//! Verilates every top of `nitrous_hdl::tops::all()` and generates the Rust
//! bindings that `src/lib.rs` includes (see the crate docs and README.md).
//!
//! Per top `<n>` (in `<cache>/tops/<n>/`, where `<cache>` is
//! `target/nitrous-sim-cache`, shared by all profiles and locked while a
//! build script runs):
//! 1. write the Verilog (`top.v`),
//! 2. `verilator --cc ... --prefix V<n>` into `obj/` (log: `verilate.log`),
//! 3. `make -f V<n>.mk V<n>__ALL.a` (log: `make.log`),
//! 4. parse `obj/V<n>.h` for ports, generate a C ABI shim `nsim_<n>.cpp`
//!    and compile it with `cc`,
//! 5. generate a Rust struct with typed accessors into `$OUT_DIR/models.rs`.
//!
//! Steps 2-4 are skipped when `top.v` and the build flags are byte-identical
//! to the last successful build (`stamp`). Verilator's runtime library is
//! compiled once for all tops (and cached the same way).
//!
//! Environment (all optional):
//! - `NITROUS_SIM_TOPS=a,b`: build only these tops (default: all).
//! - `NITROUS_SIM_OPT`: C++ optimisation flags for the models (default `-O2`).
//! - `NITROUS_SIM_JOBS`: parallel C++ jobs for `make` (default 2).
//! - `NITROUS_SIM_TRACE_FORMAT=fst|vcd`: waveform format (default `fst`).
//! - `NITROUS_SIM_CACHE_DIR`: where models are cached (default
//!   `target/nitrous-sim-cache`).
//! - `VERILATOR`: the verilator binary (default `verilator` on `PATH`).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

type BResult<T> = Result<T, String>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    In,
    Out,
    InOut,
}

impl Dir {
    fn rust(self) -> &'static str {
        match self {
            Dir::In => "In",
            Dir::Out => "Out",
            Dir::InOut => "InOut",
        }
    }
    fn writable(self) -> bool {
        self != Dir::Out
    }
}

/// One port as declared in the Verilated header.
struct Port {
    /// Name in the Verilog source (`$` restored).
    verilog: String,
    /// C++ member name (Verilator mangles `$` to `__024`).
    cxx: String,
    /// Rust identifier stem for the accessors.
    ident: String,
    width: u32,
    dir: Dir,
}

impl Port {
    fn words(&self) -> u32 {
        self.width.div_ceil(32)
    }
}

struct Settings {
    verilator: String,
    verilator_version: String,
    include: PathBuf,
    opt: String,
    jobs: String,
    fst: bool,
    cxx: String,
}

impl Settings {
    fn trace_flag(&self) -> &'static str {
        if self.fst {
            "--trace-fst"
        } else {
            "--trace"
        }
    }
    fn trace_class(&self) -> &'static str {
        if self.fst {
            "VerilatedFstC"
        } else {
            "VerilatedVcdC"
        }
    }
    fn trace_header(&self) -> &'static str {
        if self.fst {
            "verilated_fst_c.h"
        } else {
            "verilated_vcd_c.h"
        }
    }
    fn defines(&self) -> [(&'static str, &'static str); 5] {
        [
            ("VM_COVERAGE", "0"),
            ("VM_SC", "0"),
            ("VM_TRACE", "1"),
            ("VM_TRACE_FST", if self.fst { "1" } else { "0" }),
            ("VM_TRACE_VCD", if self.fst { "0" } else { "1" }),
        ]
    }
}

/// Flags Verilator's own makefile adds (verilated.mk, CFG_CXXFLAGS_NO_UNUSED).
const CXX_QUIET: &[&str] = &[
    "-faligned-new",
    "-fcf-protection=none",
    "-Wno-bool-operation",
    "-Wno-sign-compare",
    "-Wno-uninitialized",
    "-Wno-unused-but-set-variable",
    "-Wno-unused-parameter",
    "-Wno-unused-variable",
    "-Wno-shadow",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "NITROUS_SIM_TOPS",
        "NITROUS_SIM_OPT",
        "NITROUS_SIM_JOBS",
        "NITROUS_SIM_TRACE_FORMAT",
        "NITROUS_SIM_CACHE_DIR",
        "VERILATOR",
        "CXX",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if let Err(e) = run() {
        eprintln!("\nnitrous-sim build failed: {e}\n");
        std::process::exit(1);
    }
}

fn run() -> BResult<()> {
    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);
    // Models do not depend on the Rust profile: share them between release,
    // dev, clippy and doc builds, one process at a time.
    let cache = cache_root(&out);
    let lib_dir = cache.join("lib");
    fs::create_dir_all(&lib_dir).map_err(|e| format!("creating {}: {e}", lib_dir.display()))?;
    let lock_path = cache.join("lock");
    let lock = fs::File::create(&lock_path)
        .map_err(|e| format!("creating {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let settings = settings()?;

    let all = nitrous_hdl::tops::all();
    let mut seen = std::collections::HashMap::new();
    for t in &all {
        check_name(t.name)?;
        if let Some(other) = seen.insert(camel(t.name), t.name) {
            return Err(format!(
                "tops `{other}` and `{}` would both become models::{} (names must be unique)",
                t.name,
                camel(t.name)
            ));
        }
        // Lets tests and users write #[cfg(nsim_top_<name>)].
        println!("cargo::rustc-check-cfg=cfg(nsim_top_{})", t.name);
    }
    println!("cargo::rustc-check-cfg=cfg(nsim_no_tops)");
    let selected: Vec<_> = match env::var("NITROUS_SIM_TOPS") {
        Ok(list) if !list.trim().is_empty() => {
            let wanted: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            for w in &wanted {
                if !all.iter().any(|t| t.name == *w) {
                    let names: Vec<_> = all.iter().map(|t| t.name).collect();
                    return Err(format!(
                        "NITROUS_SIM_TOPS names unknown top `{w}` (known: {})",
                        names.join(", ")
                    ));
                }
            }
            all.into_iter()
                .filter(|t| wanted.contains(&t.name))
                .collect()
        }
        _ => all,
    };

    let mut report = String::new();
    let rt = Instant::now();
    let rt_cached = build_runtime(&cache, &lib_dir, &settings)?;
    let _ = writeln!(
        report,
        "verilator runtime: {}",
        if rt_cached {
            "cached".to_string()
        } else {
            format!("compiled in {:.1} s", rt.elapsed().as_secs_f64())
        }
    );

    let mut rust = String::new();
    rust.push_str("// @generated by nitrous-sim/build.rs. Do not edit.\n\n");
    let mut names = Vec::new();
    for top in &selected {
        let verilog = std::panic::catch_unwind(top.verilog)
            .map_err(|_| format!("generating the Verilog of top `{}` panicked", top.name))?;
        let built = build_top(&cache, &lib_dir, &settings, top.name, &verilog)?;
        let _ = writeln!(report, "{}: {}", top.name, built.summary);
        eprintln!("nitrous-sim: {}: {}", top.name, built.summary);
        gen_rust(&mut rust, top.name, top.description, &built.ports);
        names.push(top.name);
        println!("cargo:rustc-cfg=nsim_top_{}", top.name);
    }
    let _ = writeln!(
        rust,
        "/// A new model of top `name`, if it was built (see [`TOPS`])."
    );
    let _ = writeln!(
        rust,
        "pub fn by_name(name: &str) -> Option<Box<dyn crate::AnyModel>> {{"
    );
    if names.is_empty() {
        let _ = writeln!(rust, "    let _ = name;\n    None\n}}");
    } else {
        let _ = writeln!(rust, "    match name {{");
        for n in &names {
            let _ = writeln!(
                rust,
                "        {n:?} => Some(Box::new(<{} as crate::Model>::new())),",
                camel(n)
            );
        }
        let _ = writeln!(rust, "        _ => None,\n    }}\n}}");
    }
    if names.is_empty() {
        println!("cargo:rustc-cfg=nsim_no_tops");
    }
    let _ = writeln!(rust, "/// Names of the tops compiled into this build.");
    let _ = writeln!(rust, "pub const TOPS: &[&str] = &{names:?};");
    let _ = writeln!(
        rust,
        "/// Waveform format the models were built with (`fst` or `vcd`)."
    );
    let _ = writeln!(
        rust,
        "pub const TRACE_FORMAT: &str = {:?};",
        if settings.fst { "fst" } else { "vcd" }
    );
    let _ = writeln!(
        rust,
        "/// What the last build script run did per top (Verilator and C++ times)."
    );
    let _ = writeln!(rust, "pub const BUILD_REPORT: &str = {report:?};");
    write_if_changed(&out.join("models.rs"), &rust)?;
    write_if_changed(&out.join("build-report.txt"), &report)?;
    drop(lock);

    // Link order: shims, then models, then the shared runtime, then C++ std.
    println!("cargo:rustc-link-search=native={}", lib_dir.display());
    let fmt = if settings.fst { "fst" } else { "vcd" };
    let mut libs: Vec<String> = Vec::new();
    for n in &names {
        libs.push(format!("nsim_shim_{n}"));
        libs.push(format!("nsim_model_{n}"));
    }
    libs.push(format!("nsim_vlrt_{fmt}"));
    for l in &libs {
        println!("cargo:rustc-link-lib=static={l}");
        // Rerun (a cache hit) if the shared cache loses or replaces it.
        println!(
            "cargo:rerun-if-changed={}",
            lib_dir.join(format!("lib{l}.a")).display()
        );
    }
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=z");
    Ok(())
}

/// Where verilated models are cached: `NITROUS_SIM_CACHE_DIR`, else
/// `<target>/nitrous-sim-cache` (OUT_DIR is `<target>/<profile>/build/<pkg>/out`),
/// else OUT_DIR itself.
fn cache_root(out: &Path) -> PathBuf {
    if let Some(d) = env::var_os("NITROUS_SIM_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let build = out.parent().and_then(Path::parent);
    match (build, build.and_then(Path::parent).and_then(Path::parent)) {
        (Some(b), Some(target)) if b.file_name().is_some_and(|n| n == "build") => {
            target.join("nitrous-sim-cache")
        }
        _ => out.to_path_buf(),
    }
}

fn settings() -> BResult<Settings> {
    let verilator = env::var("VERILATOR").unwrap_or_else(|_| "verilator".into());
    let version = Command::new(&verilator)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run `{verilator}` (install Verilator 5, `make deps`): {e}"))?;
    let verilator_version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    if !verilator_version.starts_with("Verilator 5") {
        return Err(format!(
            "`{verilator}` reports `{verilator_version}`; nitrous-sim needs Verilator 5"
        ));
    }
    let root = Command::new(&verilator)
        .args(["--getenv", "VERILATOR_ROOT"])
        .output()
        .map_err(|e| format!("`{verilator} --getenv VERILATOR_ROOT`: {e}"))?;
    let root = PathBuf::from(String::from_utf8_lossy(&root.stdout).trim());
    let include = root.join("include");
    if !include.join("verilated.cpp").exists() {
        return Err(format!(
            "Verilator runtime sources not found in {}",
            include.display()
        ));
    }
    let fst = match env::var("NITROUS_SIM_TRACE_FORMAT").as_deref() {
        Err(_) | Ok("") | Ok("fst") => true,
        Ok("vcd") => false,
        Ok(other) => {
            return Err(format!(
                "NITROUS_SIM_TRACE_FORMAT=`{other}`: expected `fst` or `vcd`"
            ))
        }
    };
    let cxx = cc::Build::new()
        .cpp(true)
        .cargo_metadata(false)
        .try_get_compiler()
        .map_err(|e| format!("no C++ compiler: {e}"))?
        .path()
        .display()
        .to_string();
    Ok(Settings {
        verilator,
        verilator_version,
        include,
        opt: env::var("NITROUS_SIM_OPT").unwrap_or_else(|_| "-O2".into()),
        jobs: env::var("NITROUS_SIM_JOBS").unwrap_or_else(|_| "2".into()),
        fst,
        cxx,
    })
}

fn check_name(name: &str) -> BResult<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "top name `{name}` must match [a-z][a-z0-9_]* (it names files, C and Rust items)"
        ))
    }
}

fn write_if_changed(path: &Path, text: &str) -> BResult<()> {
    if fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Compile verilated.cpp & co. once into `libnsim_vlrt_<fst|vcd>.a`. Returns true if
/// the cached archive was reused.
fn build_runtime(out: &Path, lib_dir: &Path, s: &Settings) -> BResult<bool> {
    let trace_cpp = if s.fst {
        "verilated_fst_c.cpp"
    } else {
        "verilated_vcd_c.cpp"
    };
    let sources = ["verilated.cpp", trace_cpp, "verilated_threads.cpp"];
    let key = format!(
        "{}\n{}\n{:?}\n{:?}\n",
        s.verilator_version,
        s.cxx,
        sources,
        s.defines()
    );
    let fmt = if s.fst { "fst" } else { "vcd" };
    let stamp = out.join(format!("vlrt_{fmt}.stamp"));
    let lib = lib_dir.join(format!("libnsim_vlrt_{fmt}.a"));
    if lib.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str()) {
        return Ok(true);
    }
    let _ = fs::remove_file(&stamp);
    let mut b = cxx_build(s);
    b.include(&s.include)
        .include(s.include.join("vltstd"))
        .opt_level(2)
        .debug(false)
        .out_dir(lib_dir);
    for src in sources {
        b.file(s.include.join(src));
    }
    b.try_compile(&format!("nsim_vlrt_{fmt}"))
        .map_err(|e| format!("compiling the Verilator runtime: {e}"))?;
    fs::write(&stamp, key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(false)
}

fn cxx_build(s: &Settings) -> cc::Build {
    let mut b = cc::Build::new();
    b.cpp(true).cargo_metadata(false).warnings(false);
    for (k, v) in s.defines() {
        b.define(k, v);
    }
    for f in CXX_QUIET {
        b.flag_if_supported(f);
    }
    b
}

struct Built {
    ports: Vec<Port>,
    summary: String,
}

/// Run `cmd`, logging stdout+stderr to `log`; a failure names the top and log.
fn run_logged(mut cmd: Command, what: &str, top: &str, log: &Path) -> BResult<()> {
    let file = fs::File::create(log).map_err(|e| format!("creating {}: {e}", log.display()))?;
    let err = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let status = cmd
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .status()
        .map_err(|e| format!("top `{top}`: cannot start {what}: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(25).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{what} failed for top `{top}` ({status}); full log: {}\n--- last lines ---\n{}",
        log.display(),
        tail.join("\n")
    ))
}

fn build_top(
    out: &Path,
    lib_dir: &Path,
    s: &Settings,
    name: &str,
    verilog: &str,
) -> BResult<Built> {
    let dir = out.join("tops").join(name);
    let obj = dir.join("obj");
    let vfile = dir.join("top.v");
    let stamp = dir.join("stamp");
    let prefix = format!("V{name}");
    let model_lib = lib_dir.join(format!("libnsim_model_{name}.a"));
    let shim_lib = lib_dir.join(format!("libnsim_shim_{name}.a"));
    let shim = dir.join(format!("nsim_{name}.cpp"));
    let header = obj.join(format!("{prefix}.h"));
    let times = dir.join("times.txt");
    let key = format!(
        "{}\n{}\nopt={}\n{}\n",
        s.verilator_version,
        s.cxx,
        s.opt,
        s.trace_flag()
    );

    // Model (verilate + C++): skipped if the Verilog and flags are
    // byte-identical to the last successful build.
    let model_cached = fs::read(&vfile).ok().as_deref() == Some(verilog.as_bytes())
        && fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str())
        && model_lib.exists()
        && header.exists();
    let mut summary = if model_cached {
        let last = fs::read_to_string(&times).unwrap_or_default();
        format!(
            "model cached, Verilog unchanged (last build: {})",
            last.trim()
        )
    } else {
        let _ = fs::remove_file(&stamp);
        let _ = fs::remove_file(dir.join("shim.stamp"));
        let _ = fs::remove_dir_all(&obj);
        fs::create_dir_all(&obj).map_err(|e| format!("creating {}: {e}", obj.display()))?;
        fs::write(&vfile, verilog).map_err(|e| format!("writing {}: {e}", vfile.display()))?;

        // 1. Verilate.
        let t0 = Instant::now();
        let mut cmd = Command::new(&s.verilator);
        cmd.args([
            "--cc",
            "-Wno-fatal",
            "-Wno-WIDTH",
            s.trace_flag(),
            "--prefix",
        ])
        .arg(&prefix)
        .args(["--top-module", "top", "-Mdir"])
        .arg(&obj)
        .arg(&vfile);
        run_logged(cmd, "verilator", name, &dir.join("verilate.log"))?;
        let t_verilate = t0.elapsed().as_secs_f64();

        // 2. Compile the model with Verilator's makefile.
        let t1 = Instant::now();
        let mut cmd = Command::new("make");
        cmd.arg("-C")
            .arg(&obj)
            .arg("-f")
            .arg(format!("{prefix}.mk"))
            .arg(format!("{prefix}__ALL.a"))
            .arg(format!("-j{}", s.jobs))
            .arg(format!("OPT_FAST={}", s.opt))
            .arg(format!("CXX={}", s.cxx))
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL");
        run_logged(cmd, "make (C++ model)", name, &dir.join("make.log"))?;
        let t_make = t1.elapsed().as_secs_f64();
        let archive = obj.join(format!("{prefix}__ALL.a"));
        fs::copy(&archive, &model_lib).map_err(|e| {
            format!(
                "top `{name}`: copying {} to {}: {e}",
                archive.display(),
                model_lib.display()
            )
        })?;
        fs::write(&stamp, &key).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
        let summary = format!(
            "verilate {t_verilate:.1} s, C++ model {t_make:.1} s ({}), {} bytes of Verilog",
            s.opt,
            verilog.len()
        );
        let _ = fs::write(&times, format!("{summary}\n"));
        summary
    };

    // 3. Shim: regenerated every run (cheap), recompiled only if its text
    // changed (new ports or a newer generator).
    let ports = parse_ports(name, &header, verilog)?;
    let text = gen_shim(name, &ports, s);
    let shim_stamp = dir.join("shim.stamp");
    let shim_cached =
        shim_lib.exists() && fs::read_to_string(&shim_stamp).ok().as_deref() == Some(text.as_str());
    if shim_cached {
        let _ = write!(summary, "; shim cached");
    } else {
        let t2 = Instant::now();
        let _ = fs::remove_file(&shim_stamp);
        fs::write(&shim, &text).map_err(|e| format!("writing {}: {e}", shim.display()))?;
        let mut b = cxx_build(s);
        b.include(&s.include)
            .include(s.include.join("vltstd"))
            .include(&obj)
            .file(&shim)
            .opt_level(2)
            .debug(false)
            .out_dir(lib_dir);
        b.try_compile(&format!("nsim_shim_{name}")).map_err(|e| {
            format!(
                "compiling the C ABI shim for top `{name}` ({}): {e}",
                shim.display()
            )
        })?;
        fs::write(&shim_stamp, &text)
            .map_err(|e| format!("writing {}: {e}", shim_stamp.display()))?;
        let _ = write!(summary, "; shim {:.1} s", t2.elapsed().as_secs_f64());
    }
    let _ = write!(summary, "; {} ports", ports.len());
    Ok(Built { ports, summary })
}

/// Port order of `module top(a,b,...)` in the Verilog, if it can be found.
fn verilog_port_order(verilog: &str) -> Vec<String> {
    let Some(start) = verilog.find("module top(") else {
        return Vec::new();
    };
    let rest = &verilog[start + "module top(".len()..];
    let Some(end) = rest.find(')') else {
        return Vec::new();
    };
    rest[..end]
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_ports(name: &str, header: &Path, verilog: &str) -> BResult<Vec<Port>> {
    let text =
        fs::read_to_string(header).map_err(|e| format!("reading {}: {e}", header.display()))?;
    let mut ports = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        let Some(open) = l.find('(') else { continue };
        let mac = &l[..open];
        let dir = if let Some(r) = mac.strip_prefix("VL_INOUT") {
            (Dir::InOut, r)
        } else if let Some(r) = mac.strip_prefix("VL_IN") {
            (Dir::In, r)
        } else if let Some(r) = mac.strip_prefix("VL_OUT") {
            (Dir::Out, r)
        } else {
            continue;
        };
        if !matches!(dir.1, "" | "8" | "16" | "64" | "W") {
            continue;
        }
        let Some(close) = l.rfind(')') else { continue };
        let args: Vec<&str> = l[open + 1..close].split(',').map(str::trim).collect();
        if args.len() < 3 {
            return Err(format!(
                "top `{name}`: cannot parse port line `{l}` in {}",
                header.display()
            ));
        }
        let cxx = args[0].trim_start_matches('&').to_string();
        let msb: u32 = args[1]
            .parse()
            .map_err(|_| format!("top `{name}`: bad msb in `{l}`"))?;
        let lsb: u32 = args[2]
            .parse()
            .map_err(|_| format!("top `{name}`: bad lsb in `{l}`"))?;
        let width = msb.abs_diff(lsb) + 1;
        let expected_kind = match width {
            1..=8 => "8",
            9..=16 => "16",
            17..=32 => "",
            33..=64 => "64",
            _ => "W",
        };
        if expected_kind != dir.1 {
            return Err(format!(
                "top `{name}`: port `{cxx}` is {width} bits but declared with {mac}"
            ));
        }
        let verilog_name = cxx.replace("__024", "$");
        let mut ident: String = verilog_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if ident.starts_with(|c: char| c.is_ascii_digit()) {
            ident.insert(0, '_');
        }
        ports.push(Port {
            verilog: verilog_name,
            cxx,
            ident,
            width,
            dir: dir.0,
        });
    }
    if ports.is_empty() {
        return Err(format!(
            "top `{name}`: no ports found in {}",
            header.display()
        ));
    }
    let order = verilog_port_order(verilog);
    ports.sort_by_key(|p| {
        order
            .iter()
            .position(|o| *o == p.verilog)
            .unwrap_or(usize::MAX)
    });
    Ok(ports)
}

fn gen_shim(name: &str, ports: &[Port], s: &Settings) -> String {
    let cls = format!("V{name}");
    let tfc = s.trace_class();
    let mut o = String::new();
    let _ = write!(
        o,
        r#"// @generated by nitrous-sim/build.rs for top `{name}`. Do not edit.
// C ABI over the Verilated model {cls}: one VerilatedContext per instance.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include "verilated.h"
#include "{hdr}"
#include "{cls}.h"

namespace {{
struct Inst {{
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<{cls}> top;
    std::unique_ptr<{tfc}> tfp;
    bool traced = false;
    bool finished = false;
}};
inline Inst* inst(void* p) {{ return static_cast<Inst*>(p); }}
inline const Inst* inst(const void* p) {{ return static_cast<const Inst*>(p); }}
}}  // namespace

extern "C" {{

void* nsim_{name}_new() {{
    try {{
        std::unique_ptr<Inst> h(new Inst());
        h->ctx.reset(new VerilatedContext());
        h->ctx->traceEverOn(true);
        h->top.reset(new {cls}(h->ctx.get(), "TOP"));
        return h.release();
    }} catch (...) {{
        return nullptr;
    }}
}}

void nsim_{name}_free(void* p) {{
    Inst* h = inst(p);
    if (!h) return;
    if (h->tfp) {{ h->tfp->close(); h->tfp.reset(); }}
    if (!h->finished) h->top->final();
    h->top.reset();
    h->ctx.reset();
    delete h;
}}

void nsim_{name}_eval(void* p) {{ inst(p)->top->eval(); }}

void nsim_{name}_final(void* p) {{
    Inst* h = inst(p);
    if (!h->finished) {{ h->top->final(); h->finished = true; }}
}}

// 0 ok, -1 already traced once, -2 could not open.
int nsim_{name}_trace_open(void* p, const char* path, int levels) {{
    Inst* h = inst(p);
    if (h->traced) return -1;
    h->traced = true;
    h->tfp.reset(new {tfc}());
    h->top->trace(h->tfp.get(), levels);
    h->tfp->open(path);
    if (!h->tfp->isOpen()) {{ h->tfp.reset(); return -2; }}
    return 0;
}}

void nsim_{name}_trace_dump(void* p, uint64_t time) {{
    Inst* h = inst(p);
    if (h->tfp) {{ h->ctx->time(time); h->tfp->dump(time); }}
}}

void nsim_{name}_trace_flush(void* p) {{
    Inst* h = inst(p);
    if (h->tfp) h->tfp->flush();
}}

void nsim_{name}_trace_close(void* p) {{
    Inst* h = inst(p);
    if (h->tfp) {{ h->tfp->close(); h->tfp.reset(); }}
}}

"#,
        hdr = s.trace_header()
    );

    // tick: one whole clock cycle in one call (the hot path of Sim::tick).
    if let Some(clk) = ports
        .iter()
        .find(|p| p.verilog == "clock" && p.width == 1 && p.dir == Dir::In)
    {
        let _ = write!(
            o,
            r#"// One clock cycle: clock low, eval, sample at t; clock high, eval,
// sample at t + half.
void nsim_{name}_tick(void* p, uint64_t t, uint64_t half) {{
    Inst* h = inst(p);
    {cls}* m = h->top.get();
    m->{c} = 0;
    m->eval();
    if (h->tfp) {{ h->ctx->time(t); h->tfp->dump(t); }}
    m->{c} = 1;
    m->eval();
    if (h->tfp) {{ h->ctx->time(t + half); h->tfp->dump(t + half); }}
}}

"#,
            c = clk.cxx
        );
    }

    // set64 / get64: ports of at most 64 bits.
    let _ = writeln!(o, "// 0 ok, -1 no such (writable, <= 64-bit) port.");
    let _ = writeln!(
        o,
        "int nsim_{name}_set64(void* p, uint32_t idx, uint64_t v) {{"
    );
    let _ = writeln!(o, "    {cls}* t = inst(p)->top.get();\n    switch (idx) {{");
    for (i, p) in ports.iter().enumerate() {
        if p.dir.writable() && p.width <= 64 {
            let ty = match p.width {
                1..=8 => "CData",
                9..=16 => "SData",
                17..=32 => "IData",
                _ => "QData",
            };
            let _ = writeln!(o, "    case {i}: t->{} = ({ty})v; return 0;", p.cxx);
        }
    }
    let _ = writeln!(o, "    default: return -1;\n    }}\n}}\n");
    let _ = writeln!(
        o,
        "int nsim_{name}_get64(const void* p, uint32_t idx, uint64_t* v) {{"
    );
    let _ = writeln!(
        o,
        "    const {cls}* t = inst(p)->top.get();\n    switch (idx) {{"
    );
    for (i, p) in ports.iter().enumerate() {
        if p.width <= 64 {
            let _ = writeln!(o, "    case {i}: *v = (uint64_t)t->{}; return 0;", p.cxx);
        }
    }
    let _ = writeln!(o, "    default: return -1;\n    }}\n}}\n");

    // set_words / get_words: any width, little-endian 32-bit words.
    let _ = writeln!(
        o,
        "// 0 ok, -1 no such (writable) port, -2 wrong word count."
    );
    let _ = writeln!(
        o,
        "int nsim_{name}_set_words(void* p, uint32_t idx, const uint32_t* w, size_t n) {{"
    );
    let _ = writeln!(o, "    {cls}* t = inst(p)->top.get();\n    switch (idx) {{");
    for (i, p) in ports.iter().enumerate() {
        if !p.dir.writable() {
            continue;
        }
        let nw = p.words();
        let body = match p.width {
            1..=8 => format!("t->{} = (CData)w[0];", p.cxx),
            9..=16 => format!("t->{} = (SData)w[0];", p.cxx),
            17..=32 => format!("t->{} = (IData)w[0];", p.cxx),
            33..=64 => format!("t->{} = ((QData)w[1] << 32) | (QData)w[0];", p.cxx),
            _ => format!("for (size_t i = 0; i < {nw}; ++i) t->{}[i] = w[i];", p.cxx),
        };
        let _ = writeln!(
            o,
            "    case {i}: if (n != {nw}) return -2; {body} return 0;"
        );
    }
    let _ = writeln!(o, "    default: return -1;\n    }}\n}}\n");
    let _ = writeln!(
        o,
        "int nsim_{name}_get_words(const void* p, uint32_t idx, uint32_t* w, size_t n) {{"
    );
    let _ = writeln!(
        o,
        "    const {cls}* t = inst(p)->top.get();\n    switch (idx) {{"
    );
    for (i, p) in ports.iter().enumerate() {
        let nw = p.words();
        let body = match p.width {
            1..=32 => format!("w[0] = (uint32_t)t->{};", p.cxx),
            33..=64 => format!(
                "w[0] = (uint32_t)t->{c}; w[1] = (uint32_t)(t->{c} >> 32);",
                c = p.cxx
            ),
            _ => format!("for (size_t i = 0; i < {nw}; ++i) w[i] = t->{}[i];", p.cxx),
        };
        let _ = writeln!(
            o,
            "    case {i}: if (n != {nw}) return -2; {body} return 0;"
        );
    }
    let _ = writeln!(o, "    default: return -1;\n    }}\n}}\n");
    let _ = writeln!(o, "}}  // extern \"C\"");
    o
}

const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

fn camel(name: &str) -> String {
    name.split('_')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn gen_rust(o: &mut String, name: &str, description: &str, ports: &[Port]) {
    let ty = camel(name);
    let ffi = format!("ffi_{name}");
    let has_clock = ports
        .iter()
        .any(|p| p.verilog == "clock" && p.width == 1 && p.dir == Dir::In);
    let (tick_decl, tick_val) = if has_clock {
        (
            format!("fn nsim_{name}_tick(p: *mut c_void, t: u64, half: u64);"),
            format!("Some(nsim_{name}_tick)"),
        )
    } else {
        (String::new(), "None".to_string())
    };
    let _ = writeln!(
        o,
        r#"mod {ffi} {{
    use std::os::raw::{{c_char, c_int, c_void}};
    extern "C" {{
        fn nsim_{name}_new() -> *mut c_void;
        fn nsim_{name}_free(p: *mut c_void);
        fn nsim_{name}_eval(p: *mut c_void);
        fn nsim_{name}_final(p: *mut c_void);
        fn nsim_{name}_trace_open(p: *mut c_void, path: *const c_char, levels: c_int) -> c_int;
        fn nsim_{name}_trace_dump(p: *mut c_void, time: u64);
        fn nsim_{name}_trace_flush(p: *mut c_void);
        fn nsim_{name}_trace_close(p: *mut c_void);
        fn nsim_{name}_set64(p: *mut c_void, idx: u32, v: u64) -> c_int;
        fn nsim_{name}_get64(p: *const c_void, idx: u32, v: *mut u64) -> c_int;
        fn nsim_{name}_set_words(p: *mut c_void, idx: u32, w: *const u32, n: usize) -> c_int;
        fn nsim_{name}_get_words(p: *const c_void, idx: u32, w: *mut u32, n: usize) -> c_int;
        {tick_decl}
    }}
    pub(crate) static VTABLE: crate::raw::Vtable = crate::raw::Vtable {{
        new: nsim_{name}_new,
        free: nsim_{name}_free,
        eval: nsim_{name}_eval,
        final_: nsim_{name}_final,
        trace_open: nsim_{name}_trace_open,
        trace_dump: nsim_{name}_trace_dump,
        trace_flush: nsim_{name}_trace_flush,
        trace_close: nsim_{name}_trace_close,
        set64: nsim_{name}_set64,
        get64: nsim_{name}_get64,
        set_words: nsim_{name}_set_words,
        get_words: nsim_{name}_get_words,
        tick: {tick_val},
    }};
}}
"#
    );
    let _ = writeln!(o, "/// Verilated top `{name}`: {description}");
    let _ = writeln!(
        o,
        "///\n/// | port | dir | width | Rust type |\n/// |---|---|---|---|"
    );
    for p in ports {
        let _ = writeln!(
            o,
            "/// | `{}` | {} | {} | `{}` |",
            p.verilog,
            p.dir.rust(),
            p.width,
            rust_type(p)
        );
    }
    let _ = writeln!(
        o,
        "pub struct {ty} {{\n    raw: crate::raw::RawModel,\n}}\n"
    );
    let _ = writeln!(o, "impl crate::Model for {ty} {{");
    let _ = writeln!(o, "    const NAME: &'static str = {name:?};");
    let _ = writeln!(o, "    const DESCRIPTION: &'static str = {description:?};");
    let _ = writeln!(o, "    const PORTS: &'static [crate::PortInfo] = &[");
    for p in ports {
        let _ = writeln!(
            o,
            "        crate::PortInfo {{ name: {:?}, width: {}, dir: crate::PortDir::{} }},",
            p.verilog,
            p.width,
            p.dir.rust()
        );
    }
    let _ = writeln!(o, "    ];");
    let _ = writeln!(
        o,
        "    fn new() -> Self {{\n        Self {{ raw: crate::raw::RawModel::new(&{ffi}::VTABLE, {name:?}) }}\n    }}"
    );
    let _ = writeln!(
        o,
        "    fn raw(&self) -> &crate::raw::RawModel {{\n        &self.raw\n    }}"
    );
    let _ = writeln!(
        o,
        "    fn raw_mut(&mut self) -> &mut crate::raw::RawModel {{\n        &mut self.raw\n    }}"
    );
    let _ = writeln!(o, "}}\n");
    let _ = writeln!(
        o,
        "impl Default for {ty} {{\n    fn default() -> Self {{\n        <Self as crate::Model>::new()\n    }}\n}}\n"
    );
    let _ = writeln!(o, "impl std::fmt::Debug for {ty} {{");
    let _ = writeln!(
        o,
        "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{"
    );
    let _ = writeln!(
        o,
        "        crate::raw::debug_ports::<Self>(self, f)\n    }}\n}}\n"
    );

    let _ = writeln!(o, "#[allow(clippy::unnecessary_cast)]\nimpl {ty} {{");
    for (i, p) in ports.iter().enumerate() {
        let w = p.width;
        let getter = if RUST_KEYWORDS.contains(&p.ident.as_str()) {
            format!("r#{}", p.ident)
        } else {
            p.ident.clone()
        };
        let rt = rust_type(p);
        let pn = &p.verilog;
        // index constant
        let _ = writeln!(
            o,
            "    /// Index of port `{pn}` in [`crate::Model::PORTS`].\n    pub const PORT_{}: usize = {i};",
            p.ident.to_ascii_uppercase()
        );
        match w {
            1 => {
                let _ = writeln!(
                    o,
                    "    /// Reads port `{pn}` (1 bit).\n    #[inline]\n    pub fn {getter}(&self) -> bool {{\n        self.raw.get64({i}) != 0\n    }}"
                );
                if p.dir.writable() {
                    let _ = writeln!(
                        o,
                        "    /// Drives input `{pn}` (1 bit); takes effect at the next eval.\n    #[inline]\n    pub fn set_{}(&mut self, value: bool) {{\n        self.raw.set64({i}, value as u64);\n    }}",
                        p.ident
                    );
                }
            }
            2..=128 => {
                let _ = writeln!(
                    o,
                    "    /// Reads port `{pn}` ({w} bits).\n    #[inline]\n    pub fn {getter}(&self) -> {rt} {{"
                );
                if w <= 64 {
                    let _ = writeln!(o, "        self.raw.get64({i}) as {rt}\n    }}");
                } else {
                    let _ = writeln!(
                        o,
                        "        let mut w = [0u32; {n}];\n        self.raw.get_words({i}, &mut w);\n        crate::raw::words_to_u128(&w)\n    }}",
                        n = p.words()
                    );
                }
                if p.dir.writable() {
                    let full = matches!(w, 8 | 16 | 32 | 64 | 128);
                    let _ = writeln!(
                        o,
                        "    /// Drives input `{pn}` ({w} bits); takes effect at the next eval.{}\n    #[inline]\n    pub fn set_{}(&mut self, value: {rt}) {{",
                        if full {
                            String::new()
                        } else {
                            format!("\n    ///\n    /// # Panics\n    /// If `value` does not fit in {w} bits.")
                        },
                        p.ident
                    );
                    if !full {
                        let _ = writeln!(
                            o,
                            "        assert!((value as u128) >> {w} == 0, \"value {{value:#x}} does not fit port `{pn}` ({w} bits)\");"
                        );
                    }
                    if w <= 64 {
                        let _ = writeln!(o, "        self.raw.set64({i}, value as u64);\n    }}");
                    } else {
                        let _ = writeln!(
                            o,
                            "        let w = crate::raw::u128_to_words(value);\n        self.raw.set_words({i}, &w[..{n}]);\n    }}",
                            n = p.words()
                        );
                    }
                }
            }
            _ => {
                let n = p.words();
                let _ = writeln!(
                    o,
                    "    /// Reads port `{pn}` ({w} bits) as little-endian 32-bit words.\n    #[inline]\n    pub fn {getter}(&self) -> [u32; {n}] {{\n        let mut w = [0u32; {n}];\n        self.raw.get_words({i}, &mut w);\n        w\n    }}"
                );
                if p.dir.writable() {
                    let top_bits = w % 32;
                    let _ = writeln!(
                        o,
                        "    /// Drives input `{pn}` ({w} bits) from little-endian 32-bit words\n    /// (word 0 holds bits 31..0); takes effect at the next eval.{}\n    #[inline]\n    pub fn set_{}(&mut self, value: &[u32; {n}]) {{",
                        if top_bits == 0 {
                            String::new()
                        } else {
                            format!("\n    ///\n    /// # Panics\n    /// If bits above bit {} are set.", w - 1)
                        },
                        p.ident
                    );
                    if top_bits != 0 {
                        let _ = writeln!(
                            o,
                            "        assert!(value[{}] >> {top_bits} == 0, \"value does not fit port `{pn}` ({w} bits)\");",
                            n - 1
                        );
                    }
                    let _ = writeln!(o, "        self.raw.set_words({i}, value);\n    }}");
                }
            }
        }
    }
    let _ = writeln!(o, "}}\n");
}

fn rust_type(p: &Port) -> String {
    match p.width {
        1 => "bool".into(),
        2..=8 => "u8".into(),
        9..=16 => "u16".into(),
        17..=32 => "u32".into(),
        33..=64 => "u64".into(),
        65..=128 => "u128".into(),
        _ => format!("[u32; {}]", p.words()),
    }
}
