//! docs/REGMAP.md must be exactly what the register map generates.

#[test]
fn regmap_doc_matches_the_crate() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/REGMAP.md");
    let on_disk = std::fs::read_to_string(&path).expect("docs/REGMAP.md");
    assert!(
        on_disk == nitrous_regmap::markdown(),
        "docs/REGMAP.md is stale: run `cargo run -p nitrous-regmap --bin regmap-doc`"
    );
}
