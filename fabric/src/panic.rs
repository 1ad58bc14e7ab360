//! [`CatchPanic`]: the one place Fabric turns a panic into a failed call, as
//! `lambda_runtime` does with its panic layer. Services, hooks and whole events all
//! run inside it, so a panic anywhere in user code is a 500 and the process keeps
//! serving.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use crate::Error;

/// A panic caught by [`CatchPanic`], with its message.
///
/// ```
/// let panic = fabric::panic::Panic::from_payload(Box::new("boom"));
/// assert_eq!(panic.message(), "boom");
/// let error = fabric::Error::from(panic);
/// assert_eq!(error.status(), 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    message: String,
}

impl Panic {
    /// The panic of `payload`, as `catch_unwind` hands it over; logged once here.
    pub fn from_payload(payload: Box<dyn Any + Send>) -> Panic {
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-text panic payload".to_owned());
        tracing::error!(panic = %message, "user code panicked");
        Panic { message }
    }

    /// What the code panicked with.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A panic is an internal error: 500, its message kept for logs and unscrubbed
/// transports (the CLI), replaced by the generic text elsewhere.
impl From<Panic> for Error {
    fn from(panic: Panic) -> Error {
        Error::internal_message(format!("the service panicked: {}", panic.message))
    }
}

/// Runs the future `start` makes, turning a panic — while making it or while
/// polling it — into `Err(Panic)`.
///
/// ```
/// use fabric::panic::catch_panic;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let fine = catch_panic(|| async { 7 }).await;
/// assert_eq!(fine, Ok(7));
/// let failed = catch_panic(|| async { panic!("boom") as u8 }).await.unwrap_err();
/// assert_eq!(failed.message(), "boom");
/// let eager = catch_panic(|| -> std::future::Ready<u8> { panic!("before the future") }).await;
/// assert_eq!(eager.unwrap_err().message(), "before the future");
/// # })
/// ```
pub fn catch_panic<F: Future>(start: impl FnOnce() -> F) -> CatchPanic<F> {
    let state = match std::panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => Guarded::Running { future },
        Err(payload) => Guarded::Panicked {
            panic: Some(Panic::from_payload(payload)),
        },
    };
    CatchPanic { state }
}

pin_project_lite::pin_project! {
    /// The future of [`catch_panic`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct CatchPanic<F> {
        #[pin]
        state: Guarded<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = GuardedProjection]
    enum Guarded<F> {
        Running { #[pin] future: F },
        Panicked { panic: Option<Panic> },
    }
}

impl<F> std::fmt::Debug for CatchPanic<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            Guarded::Running { .. } => "running",
            Guarded::Panicked { .. } => "panicked",
        };
        f.debug_struct("CatchPanic").field("state", &state).finish()
    }
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            GuardedProjection::Running { future } => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                    Err(payload) => Poll::Ready(Err(Panic::from_payload(payload))),
                }
            }
            GuardedProjection::Panicked { panic } => Poll::Ready(Err(panic
                .take()
                .expect("CatchPanic polled after completion"))),
        }
    }
}
