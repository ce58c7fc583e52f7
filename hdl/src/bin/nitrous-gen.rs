//! `nitrous-gen <top> [out.v]`: write a top's Verilog (stdout by default);
//! `nitrous-gen --list`: list the tops.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag] if flag == "--list" => {
            for t in nitrous_hdl::tops::all() {
                println!("{:<20} {}", t.name, t.description);
            }
        }
        [name, rest @ ..] if rest.len() <= 1 => {
            let Some(top) = nitrous_hdl::tops::find(name) else {
                eprintln!("nitrous-gen: unknown top '{name}' (try --list)");
                std::process::exit(2);
            };
            let v = (top.verilog)();
            match rest.first() {
                Some(path) => {
                    if let Err(e) = std::fs::write(path, v) {
                        eprintln!("nitrous-gen: writing {path}: {e}");
                        std::process::exit(1);
                    }
                }
                None => print!("{v}"),
            }
        }
        _ => {
            eprintln!("usage: nitrous-gen --list | nitrous-gen <top> [out.v]");
            std::process::exit(2);
        }
    }
}
