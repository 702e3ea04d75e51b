//! `log/events.log`: one line per install, activation, removal and publish, `<unix seconds>
//! <event>`, for `pandora metrics` and for people reading it. Losing a line never fails the
//! mutation that made it.

use std::io::Write;

use pandora_common::layout::Layout;

/// Appends `line` to the events log.
pub(crate) fn record(layout: &Layout, line: &str) {
    let path = layout.events_log();
    let ok = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{} {line}", crate::fetch::now()));
    if let Err(e) = ok {
        tracing::warn!(error = %e, "cannot record event");
    }
}
