use clap::{Parser, Subcommand};
use hocthi::{auth::tokens::KeySet, config::Settings, startup::Application, stores::db, telemetry};

// glibc's per-thread arenas kept ~1 GB resident after the Argon2 hashes (19 MiB each); mimalloc
// stays near 150 MB and spends less CPU in malloc/free (docs/performance-notebook, 2026-12-01).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// HọcThi: province-wide learning and exams.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load the samples in `content-samples/` (safe to repeat).
    Seed,
    /// Make a new token-signing key in the data folder; the old one stays published.
    RotateKeys,
    /// Score candidates' responses against an answer key, offline (formats: docs/grading-files.md).
    Grade {
        #[arg(long)]
        key: std::path::PathBuf,
        #[arg(long)]
        responses: std::path::PathBuf,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Grade { key, responses }) = &cli.command {
        return grade(key, responses);
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hocthi: configuration error: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init(&settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let url = settings
                .database_url
                .clone()
                .unwrap_or_else(|| db::sqlite_url(&settings.data_dir));
            std::fs::create_dir_all(&settings.data_dir)?;
            db::migrate(&db::connect(&url, settings.db_pool_size).await?).await?;
            println!("Migrations applied.");
            Ok(())
        }
        Command::Seed => {
            let samples = settings.samples_dir.clone();
            let app = Application::build(Settings {
                listen: "127.0.0.1:0".into(),
                seed_on_first_start: false,
                ..settings
            })
            .await?;
            let report = hocthi::seed::seed(app.state(), &samples).await?;
            hocthi::seed::print_report(&report);
            Ok(())
        }
        Command::Grade { .. } => unreachable!("handled before the settings are read"),
        Command::RotateKeys => {
            if settings.jwt_signing_key.is_some() {
                anyhow::bail!(
                    "HOCTHI_JWT_SIGNING_KEY is set: rotate by moving it to HOCTHI_JWT_PREVIOUS_KEYS and setting a new one"
                );
            }
            let kid = KeySet::rotate_in(&settings.data_dir)?;
            println!(
                "New signing key {kid}; restart the service to use it. The previous key stays published."
            );
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let embedded = settings.is_embedded();
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("hocthi: cannot start: {e:#}");
            std::process::exit(1);
        }
    };
    let url = app.state().settings.public_url.clone().unwrap_or_else(|| {
        let listen = &app.state().settings.listen;
        let host = listen
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or("127.0.0.1");
        // Without TLS, browsers allow passkeys on `localhost` only (not on 127.0.0.1): the
        // address printed for this machine is the one where every sign-in works.
        let host = match host {
            "127.0.0.1" | "0.0.0.0" | "[::1]" | "[::]" => "localhost",
            other => other,
        };
        format!("http://{host}:{}", app.port())
    });
    println!(
        "HọcThi is running at {url} (students: {url}/my/exams, API docs: {url}/docs/){}",
        if embedded {
            " on the embedded stores"
        } else {
            ""
        }
    );
    if let Some(admin) = &app.bootstrap {
        match &admin.generated_password {
            Some(password) => println!(
                "First province admin: login `{}`, password `{password}` (shown once; change it)",
                admin.login
            ),
            None => println!(
                "First province admin: login `{}` (password from HOCTHI_BOOTSTRAP_ADMIN)",
                admin.login
            ),
        }
    }
    if let Some(report) = &app.seeded {
        hocthi::seed::print_report(report);
    }
    app.run_until_stopped().await?;
    Ok(())
}

/// Needs no store and no configuration: a teacher can run it on a laptop.
/// Exits 2 on any problem with the files (unreadable, or not a key and responses), as scripts
/// expect of a checker.
fn grade(key: &std::path::Path, responses: &std::path::Path) -> anyhow::Result<()> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("hocthi grade: cannot read {}: {e}", path.display());
            std::process::exit(2);
        })
    };
    let (key, responses) = (read(key), read(responses));
    match hocthi::questions::key_file::grade(&key, &responses) {
        Ok(scores) => {
            println!("{}", serde_json::to_string_pretty(&scores)?);
            Ok(())
        }
        Err(problem) => {
            eprintln!("hocthi grade: {problem}");
            std::process::exit(2);
        }
    }
}
