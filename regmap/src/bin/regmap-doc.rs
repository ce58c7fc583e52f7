//! Writes docs/REGMAP.md from the register map (run from the workspace root
//! or anywhere: the path is relative to this crate).

fn main() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/REGMAP.md");
    if let Err(e) = std::fs::write(&path, nitrous_regmap::markdown()) {
        eprintln!("error: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
