//! The chat page in a real browser (Debian's Chromium, driven through ChromeDriver):
//! two people chat on the `chat` binary's page; the page sends nothing it cannot,
//! opens one connection however fast Connect is clicked, tells its own messages
//! apart, fits a narrow window, and asks the gateway for no favicon.
//!
//! `.ci/run` installs `chromium` and `chromium-driver`; without them the test fails
//! under `CI` and is skipped with a message elsewhere.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use support::process::{KillOnDrop, free_port, ready_line, spawn_binary};

/// A program on the PATH or at one of Debian's paths.
fn program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .chain([PathBuf::from("/usr/bin").join(name)])
            .find(|candidate| candidate.is_file())
    })
}

/// Chromium and ChromeDriver, or `None` (with a message) when either is missing
/// and `CI` is unset.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let found =
        program(&["chromium", "chromium-browser", "google-chrome"]).zip(program(&["chromedriver"]));
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "Chromium and ChromeDriver are needed on CI (.ci/run installs chromium and chromium-driver)"
            );
        }
        eprintln!(
            "SKIPPED the chat page test: no chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
    }
    found
}

/// The browser's console log (the legacy log endpoint ChromeDriver keeps).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

async fn open_browser(chromium: &PathBuf, driver: u16, width: u32) -> (Client, tempdir::Dir) {
    let profile = tempdir::Dir::new();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path.display()),
                format!("--window-size={width},900"),
            ],
        }),
    );
    capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{driver}"))
            .await
        {
            Ok(client) => return (client, profile),
            Err(err) if Instant::now() < deadline => {
                eprintln!("waiting for chromedriver: {err}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(err) => panic!("chromedriver: {err}"),
        }
    }
}

/// A fresh profile directory, removed at the end.
mod tempdir {
    pub(crate) struct Dir {
        pub(crate) path: std::path::PathBuf,
    }

    impl Dir {
        pub(crate) fn new() -> Dir {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "fabric-chat-page-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs `script` in the page and gives back what it returns.
async fn run(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

/// Polls `script` until it returns true.
async fn until(client: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while run(client, script).await != json!(true) {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The lines of the page's message log, with their classes.
async fn messages(client: &Client) -> Vec<(String, String)> {
    let lines = run(
        client,
        "return [...document.querySelectorAll('#messages div')].map(d => [d.className, d.textContent]);",
    )
    .await;
    serde_json::from_value(lines).unwrap()
}

/// Counts the WebSockets the page opens, and the errors it throws.
const WATCH: &str = r"
    window.__opened = 0; window.__errors = [];
    window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
    const Native = window.WebSocket;
    window.WebSocket = function (...args) { window.__opened += 1; return new Native(...args); };
    for (const key of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) window.WebSocket[key] = Native[key];
    window.WebSocket.prototype = Native.prototype;
";

async fn type_and_enter(client: &Client, text: &str) {
    let input = client.find(Locator::Id("content")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(&format!("{text}\u{E007}")).await.unwrap();
}

#[tokio::test]
async fn two_people_chat_on_the_page_and_it_sends_nothing_it_cannot() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let port = free_port();
    let (chat, lines) = spawn_binary(env!("CARGO_BIN_EXE_chat"), port, &[], &[]);
    let _chat = KillOnDrop(chat);
    ready_line(lines).await;
    let driver_port = free_port();
    let driver = std::process::Command::new(&chromedriver)
        .arg(format!("--port={driver_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _driver = KillOnDrop(driver);
    let page = format!("http://127.0.0.1:{port}/");

    let (ada, _ada_profile) = open_browser(&chromium, driver_port, 1200).await;
    let (bob, _bob_profile) = open_browser(&chromium, driver_port, 420).await;
    for client in [&ada, &bob] {
        client.goto(&page).await.unwrap();
        run(client, WATCH).await;
    }

    // Enter while the socket is still connecting: nothing thrown, nothing sent,
    // the text kept. Two quick clicks on Connect open one connection.
    run(
        &ada,
        "document.getElementById('connect').click(); document.getElementById('connect').click();
         const box = document.getElementById('content'); box.value = 'too early';
         box.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));",
    )
    .await;
    until(
        &ada,
        "Ada connected",
        "return document.getElementById('join').disabled === false;",
    )
    .await;
    assert_eq!(
        run(&ada, "return window.__opened;").await,
        1,
        "one connection"
    );
    assert_eq!(run(&ada, "return window.__errors;").await, json!([]));
    assert_eq!(
        run(&ada, "return document.getElementById('content').value;").await,
        "too early"
    );
    assert!(
        messages(&ada)
            .await
            .iter()
            .any(|(class, text)| class == "err" && text.contains("not connected")),
        "{:?}",
        messages(&ada).await
    );

    bob.find(Locator::Id("connect"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &bob,
        "Bob connected",
        "return document.getElementById('join').disabled === false;",
    )
    .await;
    for client in [&ada, &bob] {
        client
            .find(Locator::Id("join"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until(
            client,
            "joined",
            "return document.getElementById('messages').textContent.includes('joined #general');",
        )
        .await;
    }

    type_and_enter(&ada, "hello bob").await;
    until(
        &bob,
        "Bob hears Ada",
        "return document.getElementById('messages').textContent.includes('hello bob');",
    )
    .await;
    type_and_enter(&bob, "hi ada").await;
    until(
        &ada,
        "Ada hears Bob",
        "return document.getElementById('messages').textContent.includes('hi ada');",
    )
    .await;
    let line = |lines: &[(String, String)], text: &str| {
        lines
            .iter()
            .find(|(_, line)| line.contains(text))
            .map(|(class, _)| class.clone())
            .unwrap_or_else(|| panic!("no line with {text}: {lines:?}"))
    };
    let (on_ada, on_bob) = (messages(&ada).await, messages(&bob).await);
    assert_eq!(
        line(&on_ada, "hello bob"),
        "mine",
        "Ada's own message is marked"
    );
    assert_eq!(
        line(&on_ada, "hi ada"),
        "",
        "Bob's message on Ada's page is not"
    );
    assert_eq!(line(&on_bob, "hi ada"), "mine");
    assert_eq!(line(&on_bob, "hello bob"), "");

    // After a disconnect, Enter sends nothing and keeps the text.
    ada.find(Locator::Id("disconnect"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &ada,
        "Ada disconnected",
        "return document.getElementById('messages').textContent.includes('disconnected (1000');",
    )
    .await;
    let frames_before = run(
        &ada,
        "return document.querySelectorAll('#frames .out').length;",
    )
    .await;
    type_and_enter(&ada, "into the void").await;
    assert_eq!(
        run(&ada, "return document.getElementById('content').value;").await,
        "into the void"
    );
    assert_eq!(
        run(
            &ada,
            "return document.querySelectorAll('#frames .out').length;"
        )
        .await,
        frames_before,
        "nothing was sent"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !messages(&bob)
            .await
            .iter()
            .any(|(_, text)| text.contains("into the void"))
    );
    assert_eq!(run(&ada, "return window.__errors;").await, json!([]));

    // A narrow window does not scroll sideways.
    assert_eq!(
        run(
            &bob,
            "return document.documentElement.scrollWidth <= window.innerWidth;"
        )
        .await,
        true,
        "{}",
        run(
            &bob,
            "return [document.documentElement.scrollWidth, window.innerWidth];"
        )
        .await
    );

    // No request the gateway refuses: the favicon is the page's own.
    for client in [&ada, &bob] {
        let log = client.issue_cmd(BrowserLog).await.unwrap();
        let refused: Vec<&Value> = log
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| {
                let message = entry["message"].as_str().unwrap_or_default();
                message.contains("favicon") || message.contains("403")
            })
            .collect();
        assert!(refused.is_empty(), "{refused:?}");
    }
    ada.close().await.unwrap();
    bob.close().await.unwrap();
}
