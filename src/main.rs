use clap::Parser;

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
