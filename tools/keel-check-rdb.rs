//! keel-check-rdb: the command line of keel's RDB checker and repair tool.
//! All the logic is in `keel::tools::check_rdb`; this maps the file
//! (memmap2) and prints what the library returns.
//!
//! ```text
//! keel-check-rdb <file.rdb>                              check (redis-check-rdb's report)
//! keel-check-rdb --stats [--json] <file.rdb>             check + what the file holds
//! keel-check-rdb --salvage <out.rdb> <file.rdb>          keep every intact key
//! keel-check-rdb --slots 0-5460,10923 --output <out.rdb> <file.rdb>
//! ```

use clap::Parser;
use keel::tools::check_rdb::check::CheckOptions;
use keel::tools::check_rdb::rewrite::RewriteOptions;
use keel::tools::check_rdb::slots::SlotSet;
use keel::tools::check_rdb::{open_failure, run_check, run_rewrite, Outcome};
use std::io::Write;
use std::path::PathBuf;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(
    name = "keel-check-rdb",
    version,
    about = "Check an RDB file like redis-check-rdb 7.0.15, salvage a damaged one, \
             or extract cluster slots from a backup"
)]
struct Cli {
    /// Write every intact key of a damaged file to this new RDB.
    #[arg(long, value_name = "OUT.rdb")]
    salvage: Option<PathBuf>,
    /// Keep only the keys hashing to these slots (e.g. 0-5460,10923); needs --output.
    #[arg(long, value_name = "RANGES")]
    slots: Option<String>,
    /// Where --slots writes its RDB.
    #[arg(long, value_name = "OUT.rdb")]
    output: Option<PathBuf>,
    /// Keys per database, type and encoding, expiries, largest keys, keys per slot.
    #[arg(long)]
    stats: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Check RDB 11 and 12 files (Redis 7.2 / 7.4, Valkey 8), which keel-server
    /// loads and redis-check-rdb 7.0 refuses (--salvage / --slots always accept them).
    #[arg(long)]
    newer: bool,
    /// The server's `databases` (a larger DB index is an error).
    #[arg(long, default_value_t = 16)]
    databases: u64,
    /// Skip the duplicate-key check (saves ~16 bytes of memory per key).
    #[arg(long)]
    no_dup_check: bool,
    /// Write the salvaged / sliced RDB without LZF compression.
    #[arg(long)]
    no_compress: bool,
    /// The RDB file.
    file: PathBuf,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // redis-check-rdb's own version switch.
    if args.len() == 2 && (args[1] == "-v" || args[1] == "--version") {
        println!(
            "keel-check-rdb {} (redis-check-rdb 7.0.15 compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let help = matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            );
            let _ = e.print();
            std::process::exit(if help { 0 } else { 1 });
        }
    };
    let outcome = run(&cli);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&outcome.stdout);
    let _ = out.flush();
    std::process::exit(outcome.exit);
}

fn usage_error(msg: &str) -> ! {
    eprintln!("keel-check-rdb: {msg}");
    eprintln!("Usage: keel-check-rdb [--stats] [--json] <rdb-file-name>");
    eprintln!("       keel-check-rdb --salvage <out.rdb> [--slots <ranges>] <rdb-file-name>");
    eprintln!("       keel-check-rdb --slots <ranges> --output <out.rdb> <rdb-file-name>");
    std::process::exit(1);
}

fn run(cli: &Cli) -> Outcome {
    let path = cli.file.to_string_lossy().into_owned();
    let slots = cli.slots.as_deref().map(|s| match SlotSet::parse(s) {
        Ok(s) => s,
        Err(e) => usage_error(&e),
    });
    let dest = match (&cli.salvage, &cli.output, &slots) {
        (Some(_), Some(_), _) => {
            usage_error("--output goes with --slots; --salvage names its own output")
        }
        (Some(d), None, _) => Some(d.clone()),
        (None, Some(d), Some(_)) => Some(d.clone()),
        (None, Some(_), None) => usage_error("--output needs --slots"),
        (None, None, Some(_)) => usage_error("--slots needs --output <out.rdb>"),
        (None, None, None) => None,
    };
    if dest.is_some() && cli.stats {
        usage_error("--stats goes with a check, not with --salvage / --slots");
    }
    let file = match std::fs::File::open(&cli.file) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("keel-check-rdb: cannot open {path}: {e}");
            return open_failure(&path, cli.json, &e);
        }
    };
    // An empty file cannot be mapped; it is checked as an empty slice.
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let map = if len == 0 {
        None
    } else {
        // SAFETY: the map is read-only and lives until the end of this
        // function; the tool never writes the input. Another process
        // truncating the file while it is checked could fault (SIGBUS), the
        // same exposure redis-check-rdb has with its buffered reads.
        // `populate`: the kernel maps every page up front (one batched
        // pass) instead of taking a fault per page during the walk.
        match unsafe { memmap2::MmapOptions::new().populate().map(&file) } {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("keel-check-rdb: cannot map {path}: {e}");
                return open_failure(&path, cli.json, &e);
            }
        }
    };
    if let Some(m) = &map {
        let _ = m.advise(memmap2::Advice::Sequential);
    }
    let data: &[u8] = map.as_deref().unwrap_or(&[]);
    let outcome = match dest {
        None => {
            let opts = CheckOptions {
                newer: cli.newer,
                databases: cli.databases,
                stats: cli.stats,
                dups: !cli.no_dup_check,
                ..CheckOptions::default()
            };
            run_check(data, &path, &opts, cli.json)
        }
        Some(dest) => {
            let opts = RewriteOptions {
                salvage: cli.salvage.is_some(),
                slots,
                // Rewrites read what keel-server reads (RDB 1-12) and write
                // RDB 10, which Redis 7.0 loads too.
                newer: true,
                databases: cli.databases,
                compress: !cli.no_compress,
            };
            run_rewrite(data, &path, &dest, &opts, cli.json)
        }
    };
    // The process exits right after printing: unmapping a large file page
    // by page would only delay that.
    std::mem::forget(map);
    outcome
}
