//! How `pandora` shows things: a human renderer (colours and progress bars on a terminal) and
//! a plain one (`key=value` lines, for `--log plain` and whenever stderr is not a terminal).
//! Results go to stdout; progress, logs and warnings to stderr.

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;
use pandora_proto::v1::{Event, Summary, event};
use tokio_stream::StreamExt;

use crate::client::status_failure;
use crate::{ColorChoice, Failure, GlobalArgs, LogFormat, print_out};

/// The chosen renderer.
#[derive(Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) plain: bool,
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
}

impl Printer {
    pub(crate) fn new(g: &GlobalArgs) -> Printer {
        let stderr_tty = std::io::stderr().is_terminal();
        let plain = match g.log {
            Some(LogFormat::Plain) => true,
            Some(LogFormat::Human) => false,
            None => !stderr_tty,
        };
        let color = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                stderr_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        Printer {
            plain,
            color,
            quiet: g.quiet,
            verbose: g.verbose,
        }
    }

    fn paint(&self, text: &str, f: impl Fn(&str) -> String) -> String {
        if self.color {
            f(text)
        } else {
            text.to_string()
        }
    }

    /// `warning: ...` on stderr.
    pub(crate) fn warning(&self, subject: &str, message: &str) {
        if self.plain {
            eprintln!(
                "event=warning subject={} message={}",
                quote(subject),
                quote(message)
            );
        } else {
            let w = self.paint("warning", |t| t.yellow().bold().to_string());
            eprintln!("{w}: {message}");
        }
    }

    /// A heading in bold, for tables.
    pub(crate) fn bold(&self, text: &str) -> String {
        self.paint(text, |t| t.bold().to_string())
    }

    /// Renders a mutation's events until its summary, which it returns.
    pub(crate) async fn follow(
        &self,
        mut stream: tonic::Streaming<Event>,
    ) -> Result<Summary, Failure> {
        let multi = MultiProgress::with_draw_target(if self.plain || self.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        });
        let mut bars: HashMap<u64, (ProgressBar, String, String)> = HashMap::new();
        let style = ProgressStyle::with_template(
            "{prefix:>9} {msg:30} [{bar:25}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {eta:>4}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        while let Some(item) = stream.next().await {
            let event = item.map_err(status_failure)?;
            let Some(kind) = event.kind else { continue };
            match kind {
                event::Kind::TaskStarted(t) => {
                    if self.plain {
                        if self.verbose {
                            eprintln!(
                                "event=task-start id={} kind={} subject={} total={}",
                                t.id,
                                t.kind,
                                quote(&t.subject),
                                t.total
                            );
                        }
                        bars.insert(t.id, (ProgressBar::hidden(), t.kind, t.subject));
                        continue;
                    }
                    let bar = multi.add(ProgressBar::new(t.total));
                    bar.set_style(style.clone());
                    bar.set_prefix(t.kind.clone());
                    bar.set_message(t.subject.clone());
                    bars.insert(t.id, (bar, t.kind, t.subject));
                }
                event::Kind::TaskProgress(p) => {
                    if let Some((bar, _, _)) = bars.get(&p.id) {
                        bar.set_length(p.total);
                        bar.set_position(p.done);
                    }
                }
                event::Kind::TaskFinished(f) => {
                    if let Some((bar, kind, subject)) = bars.remove(&f.id) {
                        bar.finish_and_clear();
                        multi.remove(&bar);
                        if self.plain {
                            eprintln!("event=task-done kind={kind} subject={}", quote(&subject));
                        } else if self.verbose {
                            multi.suspend(|| {
                                eprintln!(
                                    "{} {kind} {subject}",
                                    self.paint("done", |t| t.green().to_string())
                                )
                            });
                        }
                    }
                }
                event::Kind::Log(l) => {
                    if self.quiet && l.level != "warn" {
                        continue;
                    }
                    if self.plain {
                        eprintln!("event=log level={} message={}", l.level, quote(&l.message));
                    } else {
                        multi.suspend(|| eprintln!("{}", l.message));
                    }
                }
                event::Kind::Warning(w) => multi.suspend(|| self.warning(&w.subject, &w.message)),
                event::Kind::Summary(s) => {
                    multi.clear().ok();
                    self.summary(&s);
                    return Ok(s);
                }
            }
        }
        Err(
            Failure::new("the daemon ended the request without a result")
                .hint("see pandora status, then retry"),
        )
    }

    /// Prints a summary's lines on stdout.
    pub(crate) fn summary(&self, s: &Summary) {
        if self.quiet {
            return;
        }
        let mut out = String::new();
        for line in &s.lines {
            if self.plain {
                out.push_str(&format!("result={}\n", quote(line)));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        print_out(&out);
    }
}

/// A value for a `key=value` line: bare when safe, else double-quoted with escapes.
pub(crate) fn quote(v: &str) -> String {
    if !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' && c != '=')
    {
        return v.to_string();
    }
    let mut s = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Sizes for people: `554 B`, `1.2 MiB`.
pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}
