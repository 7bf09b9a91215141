//! What the server logs while a test runs, for tests that count log lines.

/// Log lines written while the guard lives, from tasks of this (current-thread) runtime.
#[derive(Clone, Default)]
pub struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLog {
    type Writer = CapturedLog;
    fn make_writer(&'a self) -> CapturedLog {
        self.clone()
    }
}

impl CapturedLog {
    pub fn install(&self) -> (tracing::subscriber::DefaultGuard, tracing::Dispatch) {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        // With a single scoped subscriber alive, tracing decides whether a log statement is
        // wanted from whichever thread reaches it first: another test's thread (no
        // subscriber) would switch it off for this one too. A second registered dispatcher
        // makes it ask every subscriber.
        let second = tracing::Dispatch::new(tracing_subscriber::registry());
        (tracing::subscriber::set_default(subscriber), second)
    }

    pub fn lines(&self, level: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(level))
            .map(str::to_string)
            .collect()
    }
}
