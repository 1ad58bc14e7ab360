//! A start that fails on Lambda (a secret that cannot be loaded, a setup hook that
//! fails): reported to the Runtime API's `/runtime/init/error`, so Lambda records an
//! init error with its type and message, then exit status 1.
//!
//! The call is one small blocking HTTP/1.1 request to the loopback Runtime API, made
//! once, as the process ends: no client is kept for it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How long the Runtime API may take to take the report.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Reports `err` as the init error (on Lambda), prints it on one line and exits 1.
/// The message is the error's text, which names the cause, never a secret value
/// (a [`SecretError`](crate::secrets::SecretError) names the secret only).
pub(crate) fn exit(err: &(dyn std::error::Error + 'static)) -> ! {
    let message = one_line(&err.to_string());
    let reported =
        crate::env::var("AWS_LAMBDA_RUNTIME_API").map(|api| post(&api, error_type(err), &message));
    if let Some(Err(failed)) = reported {
        eprintln!("fabric: could not report the init error to the Runtime API: {failed}");
    }
    crate::logging::fatal(&message)
}

/// `Fabric.SecretNotLoaded` for a secret, `Fabric.InitFailed` for anything else.
fn error_type(err: &(dyn std::error::Error + 'static)) -> &'static str {
    if err.is::<crate::secrets::SecretError>() {
        "Fabric.SecretNotLoaded"
    } else {
        "Fabric.InitFailed"
    }
}

/// The message on one line: line breaks become spaces.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn post(api: &str, error_type: &str, message: &str) -> std::io::Result<()> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string();
    let address = std::net::ToSocketAddrs::to_socket_addrs(api)?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("no address for {api}")))?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\nLambda-Runtime-Function-Error-Type: {error_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut status = [0_u8; 12];
    stream.read_exact(&mut status)?;
    // "HTTP/1.1 202"
    match &status[9..10] {
        b"2" => Ok(()),
        _ => Err(std::io::Error::other(format!(
            "the Runtime API answered {}",
            String::from_utf8_lossy(&status[9..])
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_type_names_a_secret_and_the_message_is_one_line() {
        let secret = crate::secrets::SecretError::new("CHAT_TOKEN", "not set");
        assert_eq!(error_type(&secret), "Fabric.SecretNotLoaded");
        let other = std::io::Error::other("setup failed");
        assert_eq!(error_type(&other), "Fabric.InitFailed");
        assert_eq!(one_line("a\nb\r\n  c"), "a b c");
    }
}
