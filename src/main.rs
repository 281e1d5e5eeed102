//! irlab: build, attack, check and tear down an AWS incident-response lab.
//!
//! The front door: parse, run one command, map the result to an exit code.

mod aws;
mod class;
mod cli;
mod commands;
mod emulator;
mod env_vars;
mod error;
mod incident;
mod lab;
mod regions;
mod ui;
mod workshop;

use crate::cli::{Cli, Command};
use crate::error::exit;
use crate::incident::approval;
use crate::ui::printer::Printer;

fn main() {
    let cli = match Cli::read(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are successes; every other parse error is an invalid request.
            std::process::exit(if e.use_stderr() { exit::PROBLEM } else { exit::OK });
        }
    };
    let connection = ui::hint::connection_flags(&cli.global);
    let printer = Printer::new(cli.global.output, cli.global.quiet, cli.global.verbose, connection);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime starts");
    let result = runtime.block_on(async {
        let command = async {
            match &cli.command {
                Command::Up(args) => commands::up::run(&cli.global, args, &printer).await,
                Command::Status => commands::status::run(&cli.global, &printer).await,
                Command::Labs => commands::labs::run(&cli.global, &printer).await,
                Command::Scenarios { command } => commands::scenarios::run(command, &printer),
                Command::Attack(args) => commands::attack::run(&cli.global, args, &printer).await,
                Command::Verify(args) => commands::verify::run(&cli.global, args, &printer).await,
                Command::Eradicate(args) => commands::eradicate::run(&cli.global, args, &printer).await,
                Command::Recover(args) => commands::recover::run(&cli.global, args, &printer).await,
                Command::Approve(args) => {
                    commands::approve::run(&cli.global, args, approval::Decision::Approve, &printer).await
                }
                Command::Reject(args) => {
                    commands::approve::run(&cli.global, args, approval::Decision::Reject, &printer).await
                }
                Command::Reset => commands::reset::run(&cli.global, &printer).await,
                Command::Evidence(cmd) => commands::evidence::run(&cli.global, cmd, &printer).await,
                Command::Report(args) => commands::report::run(&cli.global, args, &printer).await,
                Command::Demo(args) => commands::demo::run(&cli.global, args, &printer).await,
                Command::Playbook(cmd) => commands::playbook::run(&cli.global, cmd, &printer).await,
                Command::Extend { duration } => commands::extend::run(&cli.global, duration, &printer).await,
                Command::Down(args) => commands::down::run(&cli.global, args, &printer).await,
                Command::Local(cmd) => commands::local::run(cmd, &printer),
                Command::Bench(args) => commands::bench::run(&cli.global, args, &printer).await,
                Command::Preflight(args) => commands::preflight::run(&cli.global, args, &printer).await,
                Command::Class(command) => commands::class::run(&cli.global, command, &printer).await,
                Command::Workshop(args) => commands::workshop::run(&cli.global, args, &printer).await,
            }
        };
        // Ctrl-C stops the command at its next await, between AWS calls or with one in flight:
        // either way the lab is left as the next `up` or `down` can finish it.
        let result = tokio::select! {
            r = command => r,
            // At a question (down's confirmation), nothing was done yet: the prompt says so.
            _ = tokio::signal::ctrl_c() => match ui::prompt::cancelled() {
                Some(e) => {
                    eprintln!();
                    Err(e)
                }
                None => {
                let changing = lab::lease::held();
                lab::lease::release().await;
                if changing {
                    printer.info("interrupted; the lab now:");
                    commands::print_lab_state(&cli.global, &printer).await;
                }
                Err(commands::interrupted(&cli.command))
                }
            },
        };
        lab::lease::release().await;
        result
    });
    match result {
        Ok(()) => std::process::exit(exit::OK),
        Err(e) => {
            printer.error(&e);
            std::process::exit(e.exit_code());
        }
    }
}
