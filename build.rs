// The stand-in's sources are embedded with include_dir, which cargo does not track by itself.
fn main() {
    println!("cargo:rerun-if-changed=emulator/irlab_emulator");
    println!("cargo:rerun-if-changed=emulator/requirements.txt");
}
