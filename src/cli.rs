//! The `board` command line: `serve` (default), `migrate`, `schema`, `set-role`, `seed`.

use clap::{Parser, Subcommand, ValueEnum};

use crate::adapters::sql::Db;
use crate::adapters::sql::seed::{SeedOptions, seed_with_progress};
use crate::config::Config;
use crate::domain::Role;
use crate::startup::{App, StartError};

#[derive(Parser, Debug)]
#[command(name = "board", version, about = "A GraphQL discussion-board server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to stdout.
    Schema,
    /// Give a user a role; this is how the first admin is made.
    SetRole {
        /// The user's name.
        name: String,
        role: RoleArg,
    },
    /// Fill the database with demo users, posts, comments and votes.
    ///
    /// Expects an otherwise idle database: ids are assigned after each table's current maximum.
    Seed {
        /// Users to create, named `seed-<tag>-<n>`, all with the password `demo-password`.
        #[arg(long, default_value_t = 50)]
        users: usize,
        /// Posts to create, round-robin over the new users and the categories without children.
        #[arg(long, default_value_t = 1000)]
        posts: usize,
        /// Comments per post.
        #[arg(long, default_value_t = 5)]
        comments_per_post: usize,
        /// Votes per post, from distinct users (at most the number of users).
        #[arg(long, default_value_t = 3)]
        votes_per_post: usize,
    },
}

/// The password of every user `board seed` creates.
pub const DEMO_PASSWORD: &str = "demo-password";

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum RoleArg {
    Admin,
    User,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::User => Role::User,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Migrate => {
            let config = load()?;
            let db = Db::connect(&config.db)
                .await
                .map_err(|source| StartError::Database {
                    url: Db::describe(&config.db),
                    source,
                })?;
            db.migrate().await.map_err(StartError::Migration)?;
            tracing::info!(database = %Db::describe(&config.db), "migrations applied");
            db.close().await;
            Ok(())
        }
        Command::SetRole { name, role } => {
            let app = App::build(load()?).await?;
            let user = app
                .services
                .accounts
                .set_role_by_name(&name, role.into())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(user_id = %user.id, name = %name, role = user.role.as_db_name(), "role set");
            app.db.close().await;
            Ok(())
        }
        Command::Seed {
            users,
            posts,
            comments_per_post,
            votes_per_post,
        } => {
            let options = SeedOptions {
                users,
                posts,
                comments_per_post,
                votes_per_post,
            };
            if options.posts > 0 && options.users == 0 {
                anyhow::bail!("--posts needs at least one user (--users 1 or more)");
            }
            let config = load()?;
            let db = Db::connect(&config.db)
                .await
                .map_err(|source| StartError::Database {
                    url: Db::describe(&config.db),
                    source,
                })?;
            db.migrate().await.map_err(StartError::Migration)?;
            let cost = config.auth.bcrypt_cost;
            let password_hash =
                tokio::task::spawn_blocking(move || bcrypt::hash(DEMO_PASSWORD, cost)).await??;
            let started = std::time::Instant::now();
            let bar = Progress::new(options.posts);
            let result =
                seed_with_progress(&db, &options, &password_hash, chrono::Utc::now(), &|done| {
                    bar.show(done)
                })
                .await;
            bar.finish();
            db.close().await;
            let report = result.map_err(|e| anyhow::anyhow!("seeding failed: {e}"))?;
            tracing::info!(
                database = %Db::describe(&config.db),
                tag = %report.tag,
                users = report.users,
                posts = report.posts,
                comments = report.comments,
                votes = report.votes,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "demo data seeded"
            );
            println!(
                "seeded {} users, {} posts, {} comments, {} votes",
                report.users, report.posts, report.comments, report.votes
            );
            if let Some(name) = &report.first_user {
                println!("demo login: {name} / {DEMO_PASSWORD}");
            }
            Ok(())
        }
        Command::Serve => {
            let config = load()?;
            let bind = config.http.bind.clone();
            let app = App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .map_err(|source| StartError::Bind {
                    bind: bind.clone(),
                    source,
                })?;
            let graphiql = if app.config.http.graphiql {
                " (GraphiQL at /)"
            } else {
                ""
            };
            tracing::info!(address = %bind, "listening on http://{bind}{graphiql}");
            app.serve(listener, crate::startup::shutdown_signal())
                .await?;
            crate::telemetry::traces::shutdown().await;
            tracing::info!("stopped");
            Ok(())
        }
    }
}

fn load() -> anyhow::Result<Config> {
    let config = Config::load()?;
    crate::telemetry::init(
        config.log.format,
        config.log.logstash_addr.as_deref(),
        config.log.otlp_endpoint.as_deref(),
    );
    tracing::debug!(?config, "configuration");
    Ok(config)
}

/// The seed's progress on a terminal (stderr): a bar, posts written, rate and time left. Silent when stderr is
/// not a terminal (logs and scripts get the summary line only).
struct Progress {
    total: usize,
    started: std::time::Instant,
    on_terminal: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        use std::io::IsTerminal;
        Self {
            total,
            started: std::time::Instant::now(),
            on_terminal: std::io::stderr().is_terminal() && total > 0,
        }
    }

    fn show(&self, done: usize) {
        if !self.on_terminal {
            return;
        }
        eprint!(
            "\r{}",
            progress_line(done, self.total, self.started.elapsed())
        );
    }

    fn finish(&self) {
        if self.on_terminal {
            eprintln!();
        }
    }
}

/// `[#####     ]  50% 500000/1000000 posts  12345/s  ETA 0:41`
fn progress_line(done: usize, total: usize, elapsed: std::time::Duration) -> String {
    const WIDTH: usize = 30;
    let total = total.max(1);
    let filled = (done * WIDTH / total).min(WIDTH);
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let left = if rate > 0.0 {
        ((total.saturating_sub(done)) as f64 / rate).round() as u64
    } else {
        0
    };
    format!(
        "[{}{}] {:3}% {done}/{total} posts  {:.0}/s  ETA {}:{:02}  ",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled),
        done * 100 / total,
        rate,
        left / 60,
        left % 60
    )
}

#[cfg(test)]
mod tests {
    use super::progress_line;
    use std::time::Duration;

    #[test]
    fn the_progress_line_shows_share_rate_and_time_left() {
        let line = progress_line(250_000, 1_000_000, Duration::from_secs(50));
        assert!(line.starts_with("[#######                       ]  25% 250000/1000000 posts"));
        assert!(line.contains("5000/s"), "{line}");
        assert!(line.contains("ETA 2:30"), "{line}");
        let done = progress_line(10, 10, Duration::from_secs(1));
        assert!(done.contains("100%") && done.contains("ETA 0:00"), "{done}");
    }
}
