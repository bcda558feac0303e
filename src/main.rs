use clap::Parser;

/// mimalloc instead of glibc's malloc: allocation was a tenth of a warm read's CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = board::cli::Cli::parse();
    match board::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("board: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
