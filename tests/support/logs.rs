//! Log output captured in memory, for tests that read what a run logged.

use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `tracing_subscriber` writer that keeps every line; clones share the buffer.
#[derive(Clone, Default)]
pub(crate) struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// Everything written so far.
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8(bytes).expect("log lines are UTF-8")
    }

    /// Captures this thread's logs at DEBUG and above until the guard drops.
    pub(crate) fn at_debug() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
        let captured = CapturedLogs::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// The EMF documents written so far, each checked (`support::emf`).
    pub(crate) fn emf(&self) -> Vec<serde_json::Value> {
        super::emf::documents(&self.text())
    }
}

/// The last clone checks every EMF document written to it.
impl Drop for CapturedLogs {
    fn drop(&mut self) {
        if Arc::strong_count(&self.0) == 1 {
            super::emf::check_on_drop(&self.text());
        }
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
