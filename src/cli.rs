//! The `board` command line: `serve` (default), `migrate`, `schema`, `set-role`.

use clap::{Parser, Subcommand, ValueEnum};

use crate::adapters::sql::Db;
use crate::config::Config;
use crate::domain::Role;
use crate::{App, StartError};

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
}

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
            let db = Db::connect(&config)
                .await
                .map_err(|source| StartError::Database {
                    url: Db::describe(&config),
                    source,
                })?;
            db.migrate().await.map_err(StartError::Migration)?;
            tracing::info!(database = %Db::describe(&config), "migrations applied");
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
        Command::Serve => {
            let config = load()?;
            let bind = config.bind.clone();
            let app = App::build(config).await?;
            let listener = tokio::net::TcpListener::bind(&bind)
                .await
                .map_err(|source| StartError::Bind {
                    bind: bind.clone(),
                    source,
                })?;
            let graphiql = if app.config.graphiql {
                " (GraphiQL at /)"
            } else {
                ""
            };
            tracing::info!(address = %bind, "listening on http://{bind}{graphiql}");
            app.serve(listener, crate::shutdown_signal()).await?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}

fn load() -> anyhow::Result<Config> {
    let config = Config::load()?;
    crate::telemetry::init_logging(config.log_format);
    tracing::debug!(?config, "configuration");
    Ok(config)
}
