//! Time to compile the maximal contract to every target (printed, never asserted).
//!
//! ```sh
//! cargo run --release --example bench_generate [-- <contract.yaml> [iterations]]
//! ```

use agentbox::Contract;
use agentbox::contract::LoadOptions;
use agentbox::core::generate::{GenerateOptions, Target, generate};
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| "crates/agentbox-core/tests/contracts/maximal.yaml".to_owned());
    let iterations: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
        .max(1);
    let contract = match Contract::load(&path, &LoadOptions::default()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let options = GenerateOptions {
        cilium: true,
        strict: false,
    };
    let mut times = Vec::with_capacity(iterations);
    let mut bytes = 0;
    for _ in 0..iterations {
        let started = Instant::now();
        match generate(&contract, &[Target::All], &options) {
            Ok(generated) => bytes = generated.files.values().map(String::len).sum(),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
        times.push(started.elapsed());
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let total: Duration = times.iter().sum();
    println!(
        "generate {path} to all targets ({bytes} bytes): {iterations} iterations, mean {:?}, p50 {:?}, p99 {:?}, max {:?}",
        total / iterations.max(1) as u32,
        at(0.50),
        at(0.99),
        at(1.0)
    );
    ExitCode::SUCCESS
}
