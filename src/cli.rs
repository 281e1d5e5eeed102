//! The command line: global options shared by every command, and one subcommand per lab step.

use clap::{Args, Parser, Subcommand};

use crate::env_vars;
use crate::lab::Variant;
use crate::ui::printer::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "irlab",
    version,
    about = "Build, attack, check and tear down an AWS incident-response lab",
    long_about = "Build, attack, check and tear down an AWS incident-response lab.\n\n\
        Exit codes: 0 success; 1 a check or plan found a problem, or the request was invalid; \
        2 an AWS or internal failure."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The commands that never ask anything: `--yes` would do nothing there, so their help does
    /// not list it (a hidden copy still accepts it, for scripts that pass it everywhere).
    const ASK_NOTHING: [&'static str; 17] = [
        "status",
        "extend",
        "labs",
        "scenarios",
        "attack",
        "verify",
        "report",
        "evidence",
        "eradicate",
        "recover",
        "approve",
        "reject",
        "reset",
        "playbook",
        "local",
        "bench",
        "preflight",
    ];

    /// The command line as `irlab` parses it.
    pub fn command_line() -> clap::Command {
        Self::ASK_NOTHING.iter().fold(<Cli as clap::CommandFactory>::command(), |cmd, name| {
            cmd.mut_subcommand(name, |sub| {
                sub.arg(clap::Arg::new("yes").long("yes").action(clap::ArgAction::SetTrue).hide(true))
            })
        })
    }

    pub fn read<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut matches = Self::command_line().try_get_matches_from(args)?;
        <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
    }
}

#[derive(Debug, Args)]
pub struct Global {
    /// AWS profile (also AWS_PROFILE); SSO profiles work as in the AWS CLI
    #[arg(long, global = true, help_heading = "Global options")]
    pub profile: Option<String>,
    /// AWS region (also AWS_REGION); with --local, us-east-1 unless given
    #[arg(long, global = true, help_heading = "Global options")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (also AWS_ENDPOINT_URL)
    #[arg(long, global = true, help_heading = "Global options", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Use the local AWS stand-in (see `irlab local start`) with dummy credentials; its endpoint
    /// is IRLAB_LOCAL_ENDPOINT, default http://127.0.0.1:4566
    #[arg(long, global = true, help_heading = "Global options", env = env_vars::IRLAB_LOCAL)]
    pub local: bool,
    /// Lab name: stacks are `irlab-<lab>-<part>`, resources are tagged `irlab:lab=<lab>`
    #[arg(long, global = true, help_heading = "Global options", default_value = env_vars::DEFAULT_LAB, env = env_vars::IRLAB_LAB)]
    pub lab: String,
    /// Output format of results
    #[arg(long, global = true, help_heading = "Global options", value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Answer yes to the confirmations of up, down, demo, class and workshop
    #[arg(long, global = true, help_heading = "Global options")]
    pub yes: bool,
    /// Take the lab although another command holds it (only when that command is no longer running)
    #[arg(long, global = true, help_heading = "Global options")]
    pub break_lease: bool,
    /// Show the cause chain of errors
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub verbose: bool,
    /// Print results only, no progress
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring up CloudTrail, GuardDuty and the victim instance
    #[command(
        after_help = "Examples:\n  irlab up --playbook stepfunctions\n  irlab --profile lab --region eu-west-1 up --approval-timeout 1h\n  irlab --local up --playbook none"
    )]
    Up(UpArgs),
    /// Show each part of the lab, its state and what it costs
    #[command(after_help = "Examples:\n  irlab status\n  irlab --lab class-3 --output json status")]
    Status,
    /// List every lab in this account and region
    #[command(after_help = "Examples:\n  irlab labs\n  irlab --region eu-west-1 labs")]
    Labs,
    /// List the attack scenarios, or show one
    #[command(
        after_help = "Examples:\n  irlab scenarios\n  irlab scenarios show tor-client\n  irlab scenarios show tor-client --yaml"
    )]
    Scenarios {
        #[command(subcommand)]
        command: Option<ScenariosCommand>,
    },
    /// Start the incident: run scenarios as real traffic, sample findings or a simulated finding
    #[command(
        after_help = "Examples:\n  irlab attack tor-client\n  irlab attack --all --mode sample\n  irlab attack --scenario-file my-scenario.yaml"
    )]
    Attack(AttackArgs),
    /// Prove the remediation of an attack run happened (exit 0 when every check passes)
    #[command(
        after_help = "Examples:\n  irlab verify\n  irlab verify --run run-20261201-101500 --timeout 30m\n  irlab verify --phase all --junit verify.xml"
    )]
    Verify(VerifyArgs),
    /// Write the incident's timeline (Markdown, self-contained HTML with a chart, or JSON)
    #[command(
        after_help = "Examples:\n  irlab report\n  irlab report --compare -o compare.html\n  irlab report --all --format json"
    )]
    Report(ReportArgs),
    /// The volatile evidence the playbooks collected: list it, download it, or prove it unaltered
    #[command(
        subcommand,
        after_help = "Examples:\n  irlab evidence list\n  irlab evidence get --run run-20261201-101500 -o evidence\n  irlab evidence verify"
    )]
    Evidence(EvidenceCommand),
    /// Stop and remove what the attack left on the contained victim, then look for its indicators
    /// again (exit 0 when none is left)
    #[command(after_help = "Examples:\n  irlab eradicate\n  irlab eradicate --run run-20261201-101500")]
    Eradicate(EradicateArgs),
    /// Bring back a clean victim from the baseline `up` recorded, keeping the compromised one
    /// stopped, isolated and protected as evidence
    #[command(after_help = "Examples:\n  irlab recover\n  irlab recover --discard-compromised")]
    Recover(RecoverArgs),
    /// Let the playbook that contained the victim and waits for a decision go on: it eradicates
    /// in the same execution (stepfunctions and ssm, with `up --approval-timeout`)
    #[command(
        after_help = "Examples:\n  irlab approve\n  irlab approve run-20261201-101500 --reason \"checked the evidence\""
    )]
    Approve(DecideArgs),
    /// Stop the playbook that waits for a decision: the victim stays contained
    #[command(after_help = "Examples:\n  irlab reject\n  irlab reject --reason \"keep it for forensics\"")]
    Reject(DecideArgs),
    /// Undo the containment on the victim for the next exercise
    #[command(after_help = "Examples:\n  irlab reset\n  irlab --lab class-3 reset")]
    Reset,
    /// Run the lab end to end: up, attack (inject), verify, down; with --local on the stand-in
    #[command(after_help = "Examples:\n  irlab --local demo --all-variants\n  irlab demo --playbook lambda --yes")]
    Demo(DemoArgs),
    /// Manage the automated-response playbook
    #[command(subcommand, after_help = "Examples:\n  irlab playbook set ssm\n  irlab playbook set none")]
    Playbook(PlaybookCommand),
    /// Keep the lab longer: move its self-removal (`up --expires`) this much later
    #[command(after_help = "Examples:\n  irlab extend 2h\n  irlab --lab class-3 extend 1d")]
    Extend {
        /// How much longer (10m-30d), counted from the current expiry (from now, if it has passed)
        #[arg(value_name = "DURATION")]
        duration: String,
    },
    /// Remove everything the lab created and prove nothing is left
    #[command(after_help = "Examples:\n  irlab down\n  irlab down --dry-run\n  irlab --lab class-3 --yes down")]
    Down(DownArgs),
    /// Manage the local AWS stand-in
    #[command(subcommand, after_help = "Examples:\n  irlab local start\n  irlab local status\n  irlab local stop")]
    Local(LocalCommand),
    /// Measure event-to-contained time of each playbook on the local stand-in (needs --local)
    #[command(after_help = "Examples:\n  irlab --local bench\n  irlab --local bench --variant lambda --variant ssm")]
    Bench(BenchArgs),
    /// Check that labs fit this account's quotas (VPCs, trails, vCPUs) before bringing them up
    #[command(after_help = "Examples:\n  irlab preflight\n  irlab preflight --labs a,b,c --instance-types t3.micro")]
    Preflight(PreflightArgs),
    /// Run a whole class's labs from a roster file: up, status, attack, verify, reset, down, report
    #[command(
        subcommand,
        after_help = "Examples:\n  irlab class up --roster class.yaml\n  irlab class status --roster class.yaml --output json\n  irlab class verify --roster class.yaml --junit grades.xml"
    )]
    Class(ClassCommand),
    /// The workshop's guided path: preparation, a manual response, the three playbooks, clean-up
    /// (starts, or resumes where this lab's progress stands)
    #[command(
        after_help = "Examples:\n  irlab workshop\n  irlab workshop status\n  irlab workshop check\n  irlab --yes workshop --non-interactive"
    )]
    Workshop(WorkshopArgs),
}

#[derive(Debug, Args)]
pub struct WorkshopArgs {
    #[command(subcommand)]
    pub command: Option<WorkshopCommand>,
    /// Go to this module (1-5) and on from there, whatever is done
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=5))]
    pub step: Option<u8>,
    /// Ask nothing (needs --yes: the path creates and deletes AWS resources); the manual
    /// module then stops for `irlab workshop check`
    #[arg(long)]
    pub non_interactive: bool,
}

#[derive(Debug, Subcommand)]
pub enum WorkshopCommand {
    /// The modules done, the one next, and how long the rest takes
    Status,
    /// Grade the manual containment of module 3 step by step, with the command of a step still
    /// missing (exit 0 when every step is done)
    Check,
}

#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// The labs about to come up (comma-separated) [default: the --lab]
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub labs: Vec<String>,
    /// Their victims' instance types: one for all, or one per lab [default: t3.micro]
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub instance_types: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ClassCommand {
    /// Bring up every attendee's lab (playbook and instance type from the roster)
    Up(ClassSelect),
    /// The gradebook: each lab's state, playbook, runs, last verdict, time to contain and cost
    Status(ClassSelect),
    /// Attack every lab; arguments after `--` go to `irlab attack` [default: --all]
    Attack {
        #[command(flatten)]
        select: ClassSelect,
        #[arg(last = true, value_name = "ATTACK ARGS")]
        args: Vec<String>,
    },
    /// Verify every lab's latest run
    Verify {
        #[command(flatten)]
        select: ClassSelect,
        /// How long each lab's verify waits [default: as `irlab verify`]
        #[arg(long, value_name = "DURATION")]
        timeout: Option<String>,
        /// Write one JUnit test case per attendee and check, for graders
        #[arg(long, value_name = "FILE")]
        junit: Option<std::path::PathBuf>,
    },
    /// Undo the containment on every lab's victim for the next exercise
    Reset(ClassSelect),
    /// Remove every lab and prove nothing is left in any account
    Down(ClassSelect),
    /// Write the gradebook as a page (html), Markdown table (md) or JSON
    Report {
        #[command(flatten)]
        select: ClassSelect,
        /// md, html or json [default: from the -o file's extension, else md]
        #[arg(long, value_enum)]
        format: Option<ReportFormat>,
        /// Write to this file instead of standard output
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ClassSelect {
    /// The class roster (YAML): class name, region, defaults and attendees
    #[arg(long, value_name = "FILE")]
    pub roster: std::path::PathBuf,
    /// Only these attendees (comma-separated names)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,
    /// Only the attendees whose last class command failed
    #[arg(long, conflicts_with = "only")]
    pub failed: bool,
    /// Labs worked on at once
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub parallel: usize,
    /// An AWS Organizations OU (ou-...): one lab in each of its accounts, deployed by a
    /// service-managed StackSet from this management account (overrides the roster's `org_unit`)
    #[arg(long, value_name = "OU")]
    pub org_unit: Option<String>,
    /// With an OU: the role irlab assumes in each member account
    #[arg(long, default_value = "OrganizationAccountAccessRole", value_name = "NAME")]
    pub member_role: String,
    /// With an OU: most accounts StackSets deploys to at once, as a percentage of the OU's
    #[arg(long, default_value_t = 25, value_name = "PERCENT", value_parser = clap::value_parser!(i32).range(1..=100))]
    pub max_concurrent: i32,
    /// With an OU: accounts that may fail before StackSets stops, as a percentage of the OU's
    #[arg(long, default_value_t = 10, value_name = "PERCENT", value_parser = clap::value_parser!(i32).range(0..=100))]
    pub failure_tolerance: i32,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Playbook variant; asked on a terminal, else stepfunctions (or the one deployed)
    #[arg(long, value_enum)]
    pub playbook: Option<Variant>,
    /// Lowest GuardDuty severity the playbook acts on (1-10; default 4, Medium and above)
    #[arg(long, value_name = "N")]
    pub min_severity: Option<f64>,
    /// EC2 instance type of the victim [default: t3.micro, or what the lab has]
    #[arg(long)]
    pub instance_type: Option<String>,
    /// Also send alerts to this email address (AWS asks it to confirm the subscription)
    #[arg(long, value_name = "ADDRESS")]
    pub notify_email: Option<String>,
    /// Longest the playbook's volatile evidence collection may hold back isolation (10-600 s)
    /// [default: 120, or what the lab has]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(10..=600))]
    pub evidence_budget: Option<u32>,
    /// Also take a memory image with AVML before isolation (stepfunctions and ssm playbooks;
    /// the lab keeps it until --no-memory). Needs --avml
    #[arg(long, requires = "avml", conflicts_with = "no_memory")]
    pub memory: bool,
    /// Where AVML comes from: the file you downloaded (uploaded to the lab's evidence bucket and
    /// pinned by its SHA-256), or its https:// release URL with --avml-sha256
    #[arg(long, value_name = "PATH|URL", requires = "memory")]
    pub avml: Option<String>,
    /// The SHA-256 AVML must have; the victim refuses any other (required with a URL)
    #[arg(long, value_name = "HEX", requires = "avml")]
    pub avml_sha256: Option<String>,
    /// Longest the memory capture may hold back isolation, on top of the evidence budget
    /// (60-1800 s) [default: 300, or what the lab has]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(60..=1800))]
    pub memory_budget: Option<u32>,
    /// Stop taking memory images
    #[arg(long)]
    pub no_memory: bool,
    /// After containment, wait this long (1m-7d, e.g. 30m, 2h) for `irlab approve` (the playbook
    /// then eradicates) or `irlab reject`; without an answer the victim stays contained
    /// (stepfunctions and ssm; the lab keeps it until --no-approval) [default: no approval]
    #[arg(long, value_name = "DURATION", conflicts_with = "no_approval")]
    pub approval_timeout: Option<String>,
    /// Stop asking for approvals: the playbook ends after containment
    #[arg(long)]
    pub no_approval: bool,
    /// Remove the lab by itself after this long (10m-30d, e.g. 8h, 2d), or `never`: a janitor in
    /// the account tears it down as `irlab down` does, with this machine off, after warning the
    /// alert topic 30 minutes before; `irlab extend` moves it [default: 8h on AWS, never with
    /// --local; a lab that has one keeps it]
    #[arg(long, value_name = "DURATION|never")]
    pub expires: Option<String>,
    /// Add an AWS Budgets budget of this many USD a month on the lab's tagged cost, alerting the
    /// alert topic at 80% and 100% (needs the `irlab:lab` cost allocation tag activated; billing
    /// data lags by hours: a backstop, not a brake); `none` removes it
    #[arg(long, value_name = "USD|none")]
    pub max_spend: Option<String>,
    /// (Used by `class up --org-unit`.) Adopt or create the GuardDuty detector and record the
    /// lab; its stacks come from the class's StackSet
    #[arg(long, hide = true)]
    pub detector_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// Print one scenario: its story, technique, expected findings and commands
    Show {
        /// The scenario's id, as `irlab scenarios` lists them (for example tor-client)
        id: String,
        /// Print the scenario file itself: the shape `attack --scenario-file` takes
        #[arg(long)]
        yaml: bool,
    },
}

#[derive(Debug, Args)]
pub struct AttackArgs {
    /// Scenario ids (see `irlab scenarios`)
    pub scenarios: Vec<String>,
    /// Every built-in scenario
    #[arg(long, conflicts_with = "scenarios")]
    pub all: bool,
    /// traffic: real commands on the victim (default on AWS); sample: GuardDuty sample findings;
    /// inject: a simulated finding for the victim on the bus (default with --local)
    #[arg(long, value_enum)]
    pub mode: Option<AttackMode>,
    /// Run your own scenario file (same schema as scenarios/*.yaml)
    #[arg(long = "scenario-file", value_name = "PATH")]
    pub scenario_files: Vec<std::path::PathBuf>,
    /// Attack although the victim is still contained from an earlier run (normally: `irlab reset` first)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AttackMode {
    Traffic,
    Sample,
    Inject,
}

impl AttackMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AttackMode::Traffic => "traffic",
            AttackMode::Sample => "sample",
            AttackMode::Inject => "inject",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// Swap the deployed playbook variant without touching detection or the victim
    Set {
        #[arg(value_enum)]
        variant: Variant,
        /// Lowest GuardDuty severity the playbook acts on (1-10)
        #[arg(long, value_name = "N")]
        min_severity: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Each collection (finding, execution, items with SHA-256, size and time)
    List(EvidenceArgs),
    /// Download a collection's items and manifest into a directory
    Get {
        #[command(flatten)]
        select: EvidenceArgs,
        /// Directory to write into [default: ./irlab-evidence-<finding>]
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
    /// Read every item back and recompute its SHA-256 against the manifest (exit 1 on any mismatch)
    Verify(EvidenceArgs),
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// Only the collection for this attack run (default: every collection)
    #[arg(long)]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run to report (default: the latest `irlab attack`)
    #[arg(long, conflicts_with_all = ["compare", "all"])]
    pub run: Option<String>,
    /// Put the latest run of each playbook variant side by side
    #[arg(long, conflicts_with = "all")]
    pub compare: bool,
    /// Every run the lab has, from its history (keep a copy with `-o FILE` before `irlab down`)
    #[arg(long)]
    pub all: bool,
    /// md, html or json [default: from the -o file's extension, else md]
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write to this file instead of standard output
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Json,
}

impl ReportFormat {
    /// `--format`; else the `-o` file's extension; else JSON with `--output json`; else
    /// Markdown. Options that ask for two different formats are refused.
    pub fn choose(
        flag: Option<ReportFormat>,
        out: Option<&std::path::Path>,
        json_output: bool,
    ) -> crate::error::Result<ReportFormat> {
        let by_name = match out.and_then(|o| o.extension()).and_then(|e| e.to_str()) {
            Some("html" | "htm") => Some(ReportFormat::Html),
            Some("json") => Some(ReportFormat::Json),
            Some("md" | "markdown") => Some(ReportFormat::Md),
            _ => None,
        };
        let conflict = |what: String| {
            Err(crate::error::Error::problem(format!("{what}: which one?"))
                .with_hint("give one of them, or make them agree"))
        };
        if let (Some(f), Some(n), Some(path)) = (flag, by_name, out)
            && f != n
        {
            return conflict(format!(
                "--format {} asks for {f:?}, but -o {} names a {n:?} file",
                f.name(),
                path.display()
            ));
        }
        if let Some(f) = flag
            && json_output
            && f != ReportFormat::Json
            && out.is_none()
        {
            return conflict(format!("--format {} and --output json ask for two formats on standard output", f.name()));
        }
        Ok(flag.or(by_name).unwrap_or(if json_output { ReportFormat::Json } else { ReportFormat::Md }))
    }

    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
        }
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Playbook variant [default: stepfunctions]
    #[arg(long, value_enum, conflicts_with = "all_variants")]
    pub playbook: Option<Variant>,
    /// Each playbook in turn, with a comparison at the end
    #[arg(long)]
    pub all_variants: bool,
    /// Scenario to inject [default: tor-client]
    #[arg(long)]
    pub scenario: Option<String>,
    /// Longest the playbook's volatile evidence collection may hold back isolation (10-600 s),
    /// as `up --evidence-budget` [default: 120]
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(10..=600))]
    pub evidence_budget: Option<u32>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run to verify (default: the latest `irlab attack`)
    #[arg(long)]
    pub run: Option<String>,
    /// How long to wait [default: 2m for inject, 10m for sample, 1h for traffic]
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Time between polls
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    pub interval: String,
    /// Also write the checks as JUnit XML (for grading a class)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// The lifecycle phase to check: the containment, the eradication, or both
    #[arg(long, value_enum, default_value_t = crate::incident::verify::Phase::Contain)]
    pub phase: crate::incident::verify::Phase,
}

#[derive(Debug, Args)]
pub struct EradicateArgs {
    /// The run whose attack to eradicate (default: the latest `irlab attack`)
    #[arg(long)]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The run (`irlab attack`'s id) or the playbook execution the approval request names
    /// [default: the latest run]
    #[arg(value_name = "RUN|EXECUTION")]
    pub target: Option<String>,
    /// Why, kept in the playbook's execution history
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The run whose victim to recover (default: the latest `irlab attack`)
    #[arg(long)]
    pub run: Option<String>,
    /// Terminate the compromised instance instead of keeping it (refused until the run's
    /// evidence is complete and verified)
    #[arg(long)]
    pub discard_compromised: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Runs per variant
    #[arg(long, default_value_t = 7)]
    pub runs: usize,
    /// Variants to measure (default: all three)
    #[arg(long = "variant", value_enum)]
    pub variants: Vec<Variant>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Print the plan and exit without deleting anything
    #[arg(long)]
    pub dry_run: bool,
    /// (Used by `class down --org-unit`.) Prepare the stacks a class's StackSet deployed and
    /// release the rest; the StackSet deletes those stacks afterwards
    #[arg(long, hide = true)]
    pub for_stack_set: bool,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Install (first time) and start the stand-in; returns when it answers
    Start(StartArgs),
    /// Stop the stand-in that irlab started
    Stop(LocalArgs),
    /// Say whether the stand-in runs (exit 1 when it does not)
    Status(LocalArgs),
}

#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The stand-in's port (where `start` listens, and where `stop` and `status` look)
    #[arg(long, default_value_t = 4566)]
    pub port: u16,
    /// The stand-in's address
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(flatten)]
    pub at: LocalArgs,
    /// Multiplies the playbook engines' own waits (Step Functions Wait states, SSM sleeps and
    /// polls): 0.05 turns a 60 s Wait into 3 s; 1 waits in real time
    #[arg(long, default_value_t = 0.05, value_name = "FACTOR")]
    pub wait_scale: f64,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn report_formats_that_disagree_are_refused() {
        let choose = ReportFormat::choose;
        assert_eq!(choose(None, Some(Path::new("r.html")), false).unwrap(), ReportFormat::Html);
        assert_eq!(choose(None, None, true).unwrap(), ReportFormat::Json);
        assert_eq!(choose(Some(ReportFormat::Md), Some(Path::new("r.txt")), false).unwrap(), ReportFormat::Md);
        assert!(choose(Some(ReportFormat::Md), Some(Path::new("x.html")), false).is_err());
        assert!(choose(Some(ReportFormat::Html), None, true).is_err());
        // With a file, --output json is about what irlab prints, not the file.
        assert_eq!(choose(Some(ReportFormat::Html), Some(Path::new("r.html")), true).unwrap(), ReportFormat::Html);
    }

    #[test]
    fn every_command_has_examples_that_parse() {
        for sub in Cli::command().get_subcommands() {
            let help = sub.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.starts_with("Examples:"), "`irlab {}` has no examples", sub.get_name());
            for line in help.lines().skip(1) {
                let words = crate::workshop::words(line.trim());
                Cli::read(&words).unwrap_or_else(|e| panic!("`{line}`: {e}"));
            }
        }
    }

    #[test]
    fn yes_is_listed_only_where_something_is_asked_and_still_read_everywhere() {
        let help = |args: &[&str]| match Cli::read(args) {
            Err(e) => e.render().to_string(),
            Ok(_) => panic!("{args:?} prints help"),
        };
        for sub in ["status", "scenarios", "report", "verify", "reset"] {
            assert!(!help(&["irlab", sub, "--help"]).contains("--yes"), "`irlab {sub} --help` lists --yes");
        }
        for sub in ["up", "down", "demo", "workshop"] {
            assert!(help(&["irlab", sub, "--help"]).contains("--yes"), "`irlab {sub} --help` lacks --yes");
        }
        for args in [&["irlab", "--yes", "down"][..], &["irlab", "down", "--yes"], &["irlab", "status", "--yes"]] {
            let cli = Cli::read(args).unwrap();
            assert!(cli.global.yes, "{args:?}");
        }
        assert!(!Cli::read(["irlab", "down"]).unwrap().global.yes);
        for name in Cli::ASK_NOTHING {
            assert!(Cli::command().find_subcommand(name).is_some(), "no command {name}");
        }
    }

    #[test]
    fn global_options_have_their_own_heading_and_conflicts_are_errors() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Global options:"), "{help}");
        assert!(Cli::read(["irlab", "attack", "--all", "tor-client"]).is_err());
        Cli::command_line().debug_assert();
    }
}
