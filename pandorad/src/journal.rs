//! `log/events.log`: one line per install, activation, removal and publish, `<unix seconds>
//! <event>`, for `pandora metrics` and for people reading it. Losing a line never fails the
//! mutation that made it.

use std::io::Write;

use pandora_common::layout::Layout;

/// Appends `line` to the events log.
pub(crate) fn record(layout: &Layout, line: &str) {
    record_all(layout, &[line]);
}

/// Appends `lines` to the events log in one write: a mutation's hundreds of lines (an install
/// of 200 packages) cost one `open` rather than one each.
pub(crate) fn record_all(layout: &Layout, lines: &[impl AsRef<str>]) {
    if lines.is_empty() {
        return;
    }
    let now = crate::fetch::now();
    let text: String = lines
        .iter()
        .map(|line| format!("{now} {}\n", line.as_ref()))
        .collect();
    let path = layout.events_log();
    let ok = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = ok {
        tracing::warn!(error = %e, "cannot record event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_in_order_each_with_its_time() {
        let (_t, layout) = crate::testutil::home();
        record(&layout, "install a@1 sha256=x registry=main");
        record_all(
            &layout,
            &[
                "activate a@1 profile=default",
                "activate b@2 profile=default",
            ],
        );
        record_all(&layout, &[] as &[&str]);
        let text = fs_err::read_to_string(layout.events_log()).unwrap();
        let events: Vec<&str> = text
            .lines()
            .map(|l| {
                let (time, event) = l.split_once(' ').unwrap();
                assert!(time.parse::<u64>().unwrap() > 1_600_000_000, "{l}");
                event
            })
            .collect();
        assert_eq!(
            events,
            [
                "install a@1 sha256=x registry=main",
                "activate a@1 profile=default",
                "activate b@2 profile=default"
            ]
        );
    }
}
