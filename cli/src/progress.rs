//! The progress display of `sync`: one line per engine with the records
//! downloaded and uploaded so far, on standard error, when it is a terminal.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use parking_lot::Mutex;
use sync15::{SyncPhase, SyncProgress, SyncProgressEvent};

/// The display; does nothing when standard error is not a terminal.
pub struct Display {
    bars: Option<Arc<Bars>>,
}

struct Bars {
    multi: MultiProgress,
    by_engine: Mutex<HashMap<String, ProgressBar>>,
}

impl Display {
    /// A display, if `wanted` and a person can see it.
    pub fn new(wanted: bool) -> Self {
        let bars = (wanted && std::io::stderr().is_terminal()).then(|| {
            Arc::new(Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                by_engine: Mutex::new(HashMap::new()),
            })
        });
        Display { bars }
    }

    /// What the sync reports to.
    pub fn observer(&self) -> Option<Arc<dyn SyncProgress>> {
        self.bars.clone().map(|b| b as Arc<dyn SyncProgress>)
    }

    /// Removes the display (the summary table follows).
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            for bar in bars.by_engine.lock().values() {
                bar.finish_and_clear();
            }
            let _ = bars.multi.clear();
        }
    }
}

impl SyncProgress for Bars {
    fn progress(&self, event: SyncProgressEvent<'_>) {
        let mut by_engine = self.by_engine.lock();
        let bar = by_engine.entry(event.engine.to_owned()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<10} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(event.engine.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let phase = match event.phase {
            SyncPhase::Downloading => "downloading",
            SyncPhase::Applying => "merging",
            SyncPhase::Uploading => "uploading",
            SyncPhase::Finished => "done",
        };
        bar.set_message(format!(
            "↓ {:>7}  ↑ {:>7}  {phase}",
            event.downloaded, event.uploaded
        ));
        if event.phase == SyncPhase::Finished {
            bar.finish();
        }
    }
}
