//! `fabric_cli` through the built example binaries: `division` (one service) and
//! `fabric-demo` (subcommands `division` and `greet`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

use fabric::prelude::*;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|err| {
            panic!("{err}: stdout {:?}, stderr {:?}", self.stdout, self.stderr)
        })
    }
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().expect("exited"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn run(binary: &str, args: &[&str]) -> Run {
    run_with_stdin(binary, args, "")
}

fn run_with_stdin(binary: &str, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(binary)
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    finish(child.wait_with_output().unwrap())
}

const DIVISION: &str = env!("CARGO_BIN_EXE_division");
const DEMO: &str = env!("CARGO_BIN_EXE_fabric-demo");

#[test]
fn division_prints_the_result_as_json() {
    let run = run(DIVISION, &["--numerator", "14", "--denominator", "7"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json(), json!(2.0));
    // Not a terminal: compact, one line.
    assert_eq!(run.stdout, "2.0\n");
    assert_eq!(run.stderr, "");

    let run = self::run(DIVISION, &["-n", "-9", "-d", "2"]);
    assert_eq!(run.json(), json!(-4.5));
    let run = self::run(DIVISION, &[]);
    assert_eq!(run.json(), json!(4.0));
}

#[test]
fn a_zero_denominator_exits_2_with_the_validation_message() {
    let run = run(DIVISION, &["--denominator", "0"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "error: Bad Request: Validation failed for field \"denominator\": must not be zero\n"
    );
    let run = self::run(DIVISION, &["--numerator", "lots"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains(r#"Invalid value for field "numerator": expected a number, got "lots""#),
        "{}",
        run.stderr
    );
}

#[test]
fn help_shows_flags_defaults_and_descriptions() {
    let run = run(DIVISION, &["--help"]);
    assert_eq!(run.code, 0);
    for expected in [
        "Divide two numbers",
        "Usage: division [OPTIONS] [-]",
        "-n, --numerator [<number>]",
        "The number to divide [default: 12]",
        "-d, --denominator [<number>]",
        "The number to divide by; must not be zero [default: 3]",
        "--json <json>",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in\n{}",
            run.stdout
        );
    }

    let run = self::run(DEMO, &["greet", "--help"]);
    for expected in [
        "-n, --name <text>",
        "Who to greet",
        "--also [<text>]",
        "-s, --style [<choice>]",
        "How to greet them [default: hello]",
        "hi:      Hi, Ada!",
        "--shout",
        "--no-shout",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn list_flags_take_repeats_and_commas() {
    let run = run(
        DEMO,
        &[
            "greet",
            "-n",
            "Ada",
            "--also",
            "Grace",
            "--also",
            "Linus,Alan",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.json(),
        json!([
            "Hello, Ada!",
            "Hello, Grace!",
            "Hello, Linus!",
            "Hello, Alan!"
        ])
    );
    // Each send_message is a line on stderr, as it happens.
    assert_eq!(
        run.stderr.lines().collect::<Vec<_>>(),
        [
            r#"{"greeting":"Hello, Ada!"}"#,
            r#"{"greeting":"Hello, Grace!"}"#,
            r#"{"greeting":"Hello, Linus!"}"#,
            r#"{"greeting":"Hello, Alan!"}"#,
        ]
    );
}

#[test]
fn switches_turn_on_and_off_and_choices_are_checked() {
    let run = run(DEMO, &["greet", "-n", "Ada", "--shout", "-s", "welcome"]);
    assert_eq!(run.json(), json!(["WELCOME, ADA!"]));
    let run = self::run(DEMO, &["greet", "-n", "Ada", "--shout", "--no-shout"]);
    assert_eq!(run.json(), json!(["Hello, Ada!"]));

    let run = self::run(DEMO, &["greet", "-n", "Ada", "--style", "yo"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("invalid value 'yo'"), "{}", run.stderr);
    assert!(
        run.stderr.contains("[possible values: hello, hi, welcome]"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_required_flag_exits_2() {
    let run = run(DEMO, &["greet", "--also", "Grace"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: Bad Request: Missing required field \"name\"\n"
    );
}

#[test]
fn json_input_is_taken_whole_and_flags_override_it() {
    let run = run(
        DIVISION,
        &["--json", r#"{"numerator": 14, "denominator": 7}"#],
    );
    assert_eq!(run.json(), json!(2.0));
    let run = self::run(
        DIVISION,
        &[
            "--json",
            r#"{"numerator": 14, "denominator": 2}"#,
            "-d",
            "7",
        ],
    );
    assert_eq!(run.json(), json!(2.0));
    // A switch given in the JSON stays on when the flag is absent.
    let run = self::run(
        DEMO,
        &["greet", "--json", r#"{"name": "Ada", "shout": true}"#],
    );
    assert_eq!(run.json(), json!(["HELLO, ADA!"]));

    let run = self::run(DIVISION, &["--json", "{numerator: 1}"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("error: Bad Request: The input on --json is not valid JSON"),
        "{}",
        run.stderr
    );
}

#[test]
fn stdin_input_is_read_with_a_dash() {
    let run = run_with_stdin(
        DIVISION,
        &["-"],
        r#"{"numerator": "14", "denominator": "7"}"#,
    );
    assert_eq!(run.json(), json!(2.0), "{}", run.stderr);
    let run = run_with_stdin(
        DIVISION,
        &["--json", "-", "-n", "21"],
        r#"{"denominator": 7}"#,
    );
    assert_eq!(run.json(), json!(3.0), "{}", run.stderr);
    let run = run_with_stdin(DIVISION, &["-"], "[1, 2]");
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "error: Bad Request: The input on standard input must be a JSON object\n"
    );
}

#[test]
fn subcommands_are_listed_and_required() {
    let run = run(DEMO, &["--help"]);
    assert!(
        run.stdout.contains("division  Divide two numbers"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("greet     Greet people"),
        "{}",
        run.stdout
    );
    let run = self::run(DEMO, &["division", "-n", "1", "-d", "4"]);
    assert_eq!(run.json(), json!(0.25));
    let run = self::run(DEMO, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("Usage: fabric-demo <COMMAND>"),
        "{}",
        run.stderr
    );
    let run = self::run(DEMO, &["divide"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unrecognized subcommand 'divide'"),
        "{}",
        run.stderr
    );
}

#[test]
fn on_lambda_a_command_line_refuses_to_start() {
    let output = Command::new(DIVISION)
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("does not run on Lambda"), "{stderr}");
}

#[derive(Debug, Deserialize, Input)]
struct Nothing {}

#[fabric_service(alias = "broken")]
async fn broken(_input: Nothing, _ctx: Context) -> Result<u8, Error> {
    Err(Error::internal(std::io::Error::other("disk full")))
}

#[fabric_service(alias = "busy")]
async fn busy(_input: Nothing, _ctx: Context) -> Result<u8, Error> {
    Err(Error::too_many_requests("Slow down"))
}

#[tokio::test]
async fn server_errors_exit_1_and_client_errors_2() {
    // In-process: the example binaries have no failing service. Same code path.
    let cli = Cli::new("tool").service(broken).service(busy);
    assert_eq!(cli.run_from(["tool", "broken"]).await, 1);
    assert_eq!(cli.run_from(["tool", "busy"]).await, 2);
    assert_eq!(cli.run_from(["tool", "--bogus"]).await, 2);
    assert_eq!(cli.run_from(["tool", "--help"]).await, 0);
}

/// What a setup hook makes.
struct Greeting(&'static str);

#[fabric_service]
async fn greeting(_input: Nothing, ctx: Context) -> Result<&'static str, Error> {
    Ok(ctx.state::<Greeting>()?.0)
}

#[tokio::test]
async fn a_command_line_sets_up_before_it_runs_and_can_be_switched_off() {
    let ready = fabric_cli(greeting).setup(|| async { Ok::<_, fabric::BoxError>(Greeting("hi")) });
    assert_eq!(ready.run_from(["greeting"]).await, 0);
    assert_eq!(
        fabric_cli(greeting).run_from(["greeting"]).await,
        1,
        "no state: a 500"
    );
    let failing = fabric_cli(greeting)
        .setup(|| async { Err::<Greeting, fabric::BoxError>("no config".into()) });
    assert_eq!(
        failing.run_from(["greeting"]).await,
        1,
        "a failed setup is a 5xx"
    );
    let off = fabric_cli(greeting).unavailable(true);
    assert_eq!(off.run_from(["greeting"]).await, 1, "503");
    // A usage error still comes first, as clap's.
    assert_eq!(off.run_from(["greeting", "--bogus"]).await, 2);
}
