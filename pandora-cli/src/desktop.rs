//! The desktop session's PATH: the one question after an activation, and
//! `pandora env --session on|off` to change one's mind.

use std::process::ExitCode;

use pandora_proto::v1::{Event, SessionPathQuestion, SetSessionPathRequest};

use crate::client::{self, status_failure};
use crate::output::Printer;
use crate::{Failure, Outcome};

pub(crate) use crate::args::Session;

/// Follows an activation to its summary; when the daemon says the user never decided about
/// the session PATH, asks (`--yes` answers yes) and passes the answer on. Without a terminal
/// nothing is written and nothing recorded: the note says how to turn it on later.
pub(crate) async fn activated(
    p: &Printer,
    c: &mut client::Client,
    call: Result<tonic::Response<tonic::Streaming<Event>>, tonic::Status>,
    yes: bool,
) -> Outcome {
    let stream = call.map_err(status_failure)?;
    let summary = p.follow(stream.into_inner()).await?;
    if let Some(q) = summary.session_path_question {
        ask(p, c, &q, yes).await?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn ask(
    p: &Printer,
    c: &mut client::Client,
    q: &SessionPathQuestion,
    yes: bool,
) -> Result<(), Failure> {
    let (bin, file) = (tilde(&q.bin), tilde(&q.file));
    let enable = if yes {
        true
    } else if crate::install_cmd::asking(false) {
        crate::install_cmd::confirm(&format!(
            "Put {bin} on your desktop session's PATH ({file})? [Y/n] "
        ))?
    } else {
        if !p.quiet {
            p.note(&format!(
                "{bin} is not on your desktop session's PATH; to put it there ({file}): pandora env --session on"
            ));
        }
        return Ok(());
    };
    set(p, c, enable).await.map(drop)
}

/// Writes or removes the environment.d file, and records the decision.
pub(crate) async fn set(p: &Printer, c: &mut client::Client, enable: bool) -> Outcome {
    let req = SetSessionPathRequest { enable };
    p.mutation(c.set_session_path(req).await).await
}

/// `path` with the home directory written `~`.
fn tilde(path: &str) -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    match path.strip_prefix(home.trim_end_matches('/')) {
        Some(rest) if !home.is_empty() && rest.starts_with('/') => format!("~{rest}"),
        _ => path.to_string(),
    }
}
