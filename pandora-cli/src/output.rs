//! How `pandora` shows things: a human renderer (colours and progress bars on a terminal) and
//! a plain one (`key=value` lines, for `--log plain` and whenever stderr is not a terminal).
//! Results go to stdout; progress, logs and warnings to stderr.

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;
use pandora_proto::v1::{Event, Plan, Summary, event};
use tokio_stream::StreamExt;

use crate::client::status_failure;
use crate::{ColorChoice, Failure, GlobalArgs, LogFormat, print_out};

/// The chosen renderer.
#[derive(Clone, Copy)]
pub(crate) struct Printer {
    pub(crate) plain: bool,
    /// Colours on stdout (results).
    pub(crate) color_out: bool,
    /// Colours on stderr (progress, warnings, errors).
    pub(crate) color_err: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
}

/// Whether to colour a stream: `--color`, then `NO_COLOR`, then whether it is a terminal.
/// Each stream decides for itself, so `pandora info x | less` gets no escape codes while
/// the warnings on the terminal keep their colour.
fn colors(choice: ColorChoice, is_tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn paint(on: bool, text: &str, f: impl Fn(&str) -> String) -> String {
    if on { f(text) } else { text.to_string() }
}

/// Prints a failure on stderr: `error[code]: message` and, when there is one, `hint: …`.
pub(crate) fn error(g: &GlobalArgs, code: Option<&str>, message: &str, hint: Option<&str>) {
    let on = colors(g.color, std::io::stderr().is_terminal());
    let head = match code {
        Some(c) => format!("error[{c}]"),
        None => "error".to_string(),
    };
    let mut text = format!(
        "{}: {}\n",
        paint(on, &head, |t| t.red().bold().to_string()),
        clean(message)
    );
    if let Some(h) = hint {
        text.push_str(&format!(
            "{}: {}\n",
            paint(on, "hint", |t| t.cyan().bold().to_string()),
            clean(h)
        ));
    }
    eprint!("{text}");
}

/// Text that came from outside (a registry, a package, the daemon) with control characters
/// shown as escapes, so it cannot move the cursor, retitle the window or clear the screen.
pub(crate) fn clean(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

impl Printer {
    pub(crate) fn new(g: &GlobalArgs) -> Printer {
        let stderr_tty = std::io::stderr().is_terminal();
        let plain = match g.log {
            Some(LogFormat::Plain) => true,
            Some(LogFormat::Human) => false,
            None => !stderr_tty,
        };
        Printer {
            plain,
            color_out: colors(g.color, std::io::stdout().is_terminal()),
            color_err: colors(g.color, stderr_tty),
            quiet: g.quiet,
            verbose: g.verbose,
        }
    }

    /// `warning: ...` on stderr.
    pub(crate) fn warning(&self, code: &str, subject: &str, message: &str) {
        if self.plain {
            eprintln!(
                "event=warning code={} subject={} message={}",
                quote(code),
                quote(subject),
                quote(message)
            );
        } else {
            let w = paint(self.color_err, "warning", |t| t.yellow().bold().to_string());
            eprintln!("{w}: {}", clean(message));
        }
    }

    /// `note: ...` on stderr: something to know about a result.
    pub(crate) fn note(&self, message: &str) {
        if self.plain {
            eprintln!("event=note message={}", quote(message));
        } else {
            let n = paint(self.color_err, "note", |t| t.cyan().bold().to_string());
            eprintln!("{n}: {}", clean(message));
        }
    }

    /// A heading in bold, for tables on stdout.
    pub(crate) fn bold(&self, text: &str) -> String {
        paint(self.color_out, text, |t| t.bold().to_string())
    }

    /// An install plan on stdout: one line per package.
    pub(crate) fn plan(&self, plan: &Plan) {
        let mut out = String::new();
        for i in &plan.items {
            let pin = format!("{}@{}", i.name, i.version);
            if self.plain {
                out.push_str(&format!(
                    "plan package={} registry={} file={} size={} sha256={} needed_by={} deprecated={} in_store={} hooks={}\n",
                    quote(&pin),
                    quote(&i.registry),
                    quote(&i.file),
                    i.size,
                    quote(&i.sha256),
                    quote(&i.needed_by),
                    i.deprecated,
                    i.in_store,
                    quote(&i.hooks.join("; "))
                ));
                continue;
            }
            if i.in_store {
                if i.needed_by.is_empty() {
                    out.push_str(&format!("already installed {pin}\n"));
                }
                continue;
            }
            let origin = if i.file.is_empty() {
                format!("registry `{}`", i.registry)
            } else {
                i.file.clone()
            };
            let size = if i.size > 0 {
                format!(", {}", human_size(i.size))
            } else {
                String::new()
            };
            let why = if i.needed_by.is_empty() {
                String::new()
            } else {
                format!(", for {}", i.needed_by)
            };
            let deprecated = if i.deprecated { " (deprecated)" } else { "" };
            out.push_str(&clean(&format!(
                "will install {pin} from {origin}{size}{why}{deprecated} [{}]\n",
                &i.sha256[..12.min(i.sha256.len())]
            )));
            for h in &i.hooks {
                out.push_str(&clean(&format!("  and run its {h} (in the sandbox)\n")));
            }
        }
        if let Some(a) = &plan.activation {
            if self.plain {
                out.push_str(&format!(
                    "plan activate={} profile={} replaces={} generation={}\n",
                    quote(&a.packages.join(" ")),
                    quote(&a.profile),
                    quote(&a.replaces.join(" ")),
                    a.generation
                ));
            } else {
                let replacing = if a.replaces.is_empty() {
                    String::new()
                } else {
                    format!(", replacing {}", a.replaces.join(", "))
                };
                out.push_str(&clean(&format!(
                    "will activate {} in profile `{}`{replacing}\n",
                    a.packages.join(", "),
                    a.profile
                )));
            }
        }
        print_out(&out);
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
        // A step with no known total (an unpack) shows what it did so far, not a full bar.
        let open = ProgressStyle::with_template("{prefix:>9} {msg:30} {bytes:>10} {elapsed:>4}")
            .expect("a valid template");
        // Ctrl-C: the bars go, the user hears what happens to the change, and leaving the
        // stream tells the daemon to stop it at its next safe point.
        let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                _ = &mut interrupted => {
                    multi.clear().ok();
                    return Err(Failure::new(
                        "pandorad stops the change at its next safe point; nothing is left \
                         half-done (what was complete before it stays)",
                    )
                    .code("interrupted"));
                }
            };
            let Some(item) = item else { break };
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
                    bar.set_style(if t.total == 0 {
                        open.clone()
                    } else {
                        style.clone()
                    });
                    bar.set_prefix(t.kind.clone());
                    bar.set_message(t.subject.clone());
                    bars.insert(t.id, (bar, t.kind, t.subject));
                }
                event::Kind::TaskProgress(p) => {
                    if let Some((bar, _, _)) = bars.get(&p.id) {
                        if p.total > 0 && bar.length() == Some(0) {
                            bar.set_style(style.clone());
                        }
                        bar.set_length(p.total);
                        bar.set_position(p.done);
                    }
                }
                event::Kind::TaskFinished(f) => {
                    if let Some((bar, kind, subject)) = bars.remove(&f.id) {
                        bar.finish_and_clear();
                        multi.remove(&bar);
                        if self.plain && !self.quiet {
                            eprintln!("event=task-done kind={kind} subject={}", quote(&subject));
                        } else if self.verbose {
                            multi.suspend(|| {
                                eprintln!(
                                    "{} {kind} {subject}",
                                    paint(self.color_err, "done", |t| t.green().to_string())
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
                        multi.suspend(|| eprintln!("{}", clean(&l.message)));
                    }
                }
                event::Kind::Warning(w) => {
                    multi.suspend(|| self.warning(&w.code, &w.subject, &w.message))
                }
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

    /// Like [`Printer::follow`], without printing the summary (for a plan asked again).
    pub(crate) async fn quietly(
        &self,
        mut stream: tonic::Streaming<Event>,
    ) -> Result<Summary, Failure> {
        while let Some(item) = stream.next().await {
            if let Some(event::Kind::Summary(s)) = item.map_err(status_failure)?.kind {
                return Ok(s);
            }
        }
        Err(Failure::new(
            "the daemon ended the request without a result",
        ))
    }

    /// Follows a mutation the daemon accepted (or reports why it refused it) to its
    /// summary: the whole of most mutating commands.
    pub(crate) async fn mutation(
        &self,
        call: Result<tonic::Response<tonic::Streaming<Event>>, tonic::Status>,
    ) -> crate::Outcome {
        let stream = call.map_err(status_failure)?;
        self.follow(stream.into_inner()).await?;
        Ok(std::process::ExitCode::SUCCESS)
    }

    /// Prints a summary's lines on stdout.
    pub(crate) fn summary(&self, s: &Summary) {
        let mut out = String::new();
        for line in &s.lines {
            if self.plain {
                out.push_str(&format!("result={}\n", quote(line)));
            } else {
                out.push_str(&clean(line));
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
            c if c.is_control() => s.push_str(&c.escape_default().to_string()),
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
