//! Load generator for the tpcio server. The scenarios (echo, ack, broadcast,
//! connect, idle, polling) and the side-by-side comparison with the Node
//! reference arrive with the load-tester issue; this member exists now so the
//! workspace layout (client-side dependencies outside the server build) is fixed.

fn main() {
    eprintln!("tpcio-loadtest: no scenarios yet (see the load tester issue)");
    std::process::exit(2);
}
