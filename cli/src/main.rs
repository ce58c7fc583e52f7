fn main() {
    eprintln!("nitrous: no commands yet");
    std::process::exit(2);
}
