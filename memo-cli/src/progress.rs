//! A progress bar on stderr for walks of the whole cache, shown only when
//! stderr is a terminal and only once a phase has taken longer than a
//! moment, so quick commands and scripts never see it.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use memory::manage::Progress;

/// How long a phase runs before its bar appears.
const DELAY: Duration = Duration::from_millis(300);

/// Draws indicatif bars for the phases memo reports.
pub struct Bar {
    enabled: bool,
    phase: Mutex<Option<Phase>>,
}

struct Phase {
    bar: ProgressBar,
    started: Instant,
    bytes: bool,
}

impl Bar {
    /// A bar, drawn if stderr is a terminal and `enabled`.
    pub fn new(enabled: bool) -> Bar {
        Bar {
            enabled: enabled && std::io::stderr().is_terminal(),
            phase: Mutex::new(None),
        }
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        if !self.enabled {
            return;
        }
        let bytes = what == "Verifying";
        let template = match (total, bytes) {
            (Some(_), true) => "{msg:>10} [{bar:40}] {bytes}/{total_bytes} ({eta})",
            (Some(_), false) => "{msg:>10} [{bar:40}] {human_pos}/{human_len} ({eta})",
            (None, _) => "{msg:>10} {spinner} {human_pos} entries",
        };
        let style = ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> ");
        let bar =
            ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden()).with_style(style);
        bar.set_message(what.to_owned());
        *self.phase.lock().unwrap() = Some(Phase {
            bar,
            started: Instant::now(),
            bytes,
        });
    }

    fn advance(&self, done: u64) {
        let phase = self.phase.lock().unwrap();
        let Some(phase) = phase.as_ref() else { return };
        phase.bar.inc(done);
        if phase.bar.is_hidden() && phase.started.elapsed() >= DELAY {
            phase.bar.set_draw_target(ProgressDrawTarget::stderr());
            if !phase.bytes {
                phase.bar.enable_steady_tick(Duration::from_millis(100));
            }
        }
    }

    fn finish(&self) {
        if let Some(phase) = self.phase.lock().unwrap().take() {
            phase.bar.finish_and_clear();
        }
    }
}
