//! A question answered with a line on the terminal, which Ctrl-C cancels at once: the answer
//! is read on a blocking thread, so the command's Ctrl-C handler (`main`) still runs, and while
//! a question is open that handler says what the prompt's cancellation means (nothing done)
//! instead of "stopped part-way".

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// What an interrupt means while a question is open.
static OPEN: Mutex<Option<String>> = Mutex::new(None);

/// Asks `question` on stderr and reads a line. While it waits, Ctrl-C ends the command with
/// `cancelled` (see [`cancelled`]). Refuses without a terminal, with `no_terminal`.
pub async fn line(question: &str, cancelled: &str, no_terminal: Error) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(no_terminal);
    }
    eprint!("{question} ");
    std::io::stderr().flush()?;
    *OPEN.lock().expect("prompt lock") = Some(cancelled.to_string());
    let read = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map(|_| answer)
    })
    .await;
    *OPEN.lock().expect("prompt lock") = None;
    read.map_err(|e| Error::failure(format!("reading the answer: {e}")))?
        .map_err(|e| Error::failure(format!("reading the answer: {e}")))
}

/// The interruption of the open question, if one is open: what `main` reports on Ctrl-C.
pub fn cancelled() -> Option<Error> {
    OPEN.lock().expect("prompt lock").take().map(Error::interrupted)
}
