//! The `pandora.v1.Pandora` service: reads answered from the snapshot, mutations queued.

use std::sync::Arc;

use pandora_proto::v1::pandora_server::Pandora;
use pandora_proto::v1::*;
use tonic::{Request, Response, Status};

use super::Shared;
use pandora_common::layout::Layout;

use crate::engine::{EventStream, Events, Outcome, StoreUse};
use crate::error::{Error, Kind};
use crate::registries;
use crate::store::StoreView;

/// The service; one per daemon.
pub(crate) struct Service {
    shared: Arc<Shared>,
}

impl Service {
    pub(crate) fn new(shared: Arc<Shared>) -> Service {
        Service { shared }
    }
}

/// The one place where the daemon's errors become gRPC statuses: the gRPC code from the
/// error's kind, the message with its causes, and the stable code and hint as metadata.
pub(crate) fn to_status(e: Error) -> Status {
    let code = match e.kind() {
        Kind::InvalidArgument => tonic::Code::InvalidArgument,
        Kind::NotFound => tonic::Code::NotFound,
        Kind::AlreadyExists => tonic::Code::AlreadyExists,
        Kind::FailedPrecondition => tonic::Code::FailedPrecondition,
        Kind::Unavailable => tonic::Code::Unavailable,
        Kind::DataLoss => tonic::Code::DataLoss,
        Kind::Unauthenticated => tonic::Code::Unauthenticated,
        Kind::PermissionDenied => tonic::Code::PermissionDenied,
        Kind::ResourceExhausted => tonic::Code::ResourceExhausted,
        Kind::Cancelled => tonic::Code::Cancelled,
        Kind::Internal => tonic::Code::Internal,
    };
    let mut status = Status::new(code, pandora_common::error_chain(&e, ": "));
    if let Ok(v) = e.code().parse() {
        status.metadata_mut().insert(pandora_proto::CODE_KEY, v);
    }
    // Metadata values are visible ASCII: a hint that is not stays readable.
    if let Some(h) = e
        .hint()
        .map(|h| h.replace('…', "...").replace(|c: char| !c.is_ascii(), "?"))
        && let Ok(v) = h.parse()
    {
        status.metadata_mut().insert(pandora_proto::HINT_KEY, v);
    }
    status
}

/// A mutation's events as the client receives them.
type Stream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<Event, Status>> + Send>>;

fn stream(events: EventStream) -> Response<Stream> {
    use tokio_stream::StreamExt;
    Response::new(Box::pin(events.map(|e| e.map_err(to_status))))
}

#[tonic::async_trait]
impl Pandora for Service {
    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusReply>, Status> {
        let _g = self.shared.activity.begin();
        let store = self.shared.store.load();
        let mut queue = self.shared.engine.queue();
        queue.extend(
            self.shared
                .repaired
                .iter()
                .map(|r| format!("recovered at start: {r}")),
        );
        Ok(Response::new(StatusReply {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_secs: self.shared.activity.uptime(),
            home: self.shared.layout.home().display().to_string(),
            store_packages: store.entries.len() as u64,
            store_bytes: store.bytes(),
            queue,
            idle_timeout_secs: self.shared.idle_timeout,
        }))
    }

    async fn list_store(
        &self,
        _: Request<ListStoreRequest>,
    ) -> Result<Response<ListStoreReply>, Status> {
        let _g = self.shared.activity.begin();
        // A cheap look (a stat per directory) catches entries added, changed or deleted by
        // hand; the view the daemon's start-up took less than a second ago is used as it is.
        let (shared, layout) = (self.shared.store.clone(), self.shared.layout.clone());
        let store = tokio::task::spawn_blocking(move || {
            let current = shared.load_full();
            if current.loaded_within(std::time::Duration::from_secs(1)) {
                return current;
            }
            super::refresh_shared(&shared, current, &layout)
        })
        .await
        .map_err(|e| to_status(Error::Internal(format!("the request crashed: {e}"))))?;
        let entries = store
            .entries
            .iter()
            .map(|e| StoreEntry {
                name: e.manifest.name.clone(),
                version: e.manifest.version.clone(),
                size: e.size,
                archive_sha256: e.manifest.archive_sha256.clone().unwrap_or_default(),
                description: e.manifest.description.clone().unwrap_or_default(),
                files: e.files,
            })
            .collect();
        let damaged = store
            .damaged
            .iter()
            .map(|d| DamagedEntry {
                name: d.name.clone(),
                version: d.version.clone(),
                reason: d.reason.clone(),
            })
            .collect();
        Ok(Response::new(ListStoreReply { entries, damaged }))
    }

    async fn list_remote(
        &self,
        _: Request<ListRemoteRequest>,
    ) -> Result<Response<ListRemoteReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        blocking(move || crate::reads::list_remote(&layout)).await
    }

    async fn search(&self, req: Request<SearchRequest>) -> Result<Response<SearchReply>, Status> {
        let _g = self.shared.activity.begin();
        let req = req.into_inner();
        let layout = self.shared.layout.clone();
        blocking(move || crate::reads::search(&layout, &req.query, req.refresh)).await
    }

    async fn info(&self, req: Request<InfoRequest>) -> Result<Response<InfoReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let store = self.shared.store.load_full();
        let req = req.into_inner();
        blocking(move || crate::reads::info(&layout, &store, &req.package, req.refresh)).await
    }

    async fn list_registries(
        &self,
        _: Request<ListRegistriesRequest>,
    ) -> Result<Response<ListRegistriesReply>, Status> {
        let _g = self.shared.activity.begin();
        let list = registries::load(&self.shared.layout).map_err(to_status)?;
        let registries = list
            .by_priority()
            .into_iter()
            .map(|r| Registry {
                name: r.name.clone(),
                url: r.url.clone(),
                priority: r.priority,
                require_signatures: r.require_signatures,
                allow_publish: r.allow_publish,
                cache_ttl_secs: r.cache_ttl.as_secs(),
                trusted_keys: r.trusted_keys.clone(),
            })
            .collect();
        Ok(Response::new(ListRegistriesReply { registries }))
    }

    type InstallStream = Stream;
    async fn install(&self, req: Request<InstallRequest>) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        if req.packages.is_empty() {
            let e = Error::Usage("name at least one package to install".into());
            return Err(to_status(e));
        }
        let label = format!("install {}", req.packages.join(" "));
        Ok(self.mutate(label, move |m| {
            let mode = match (req.plan_only, req.plan_id.as_str()) {
                (true, _) => crate::install::Mode::PlanOnly,
                (false, "") => crate::install::Mode::Apply,
                (false, id) => crate::install::Mode::Confirmed(id),
            };
            let request = crate::install::Request {
                packages: &req.packages,
                refresh: req.refresh,
                repair: req.repair,
                mode,
                activate: req.activate.then_some(crate::install::Activation {
                    profile: &req.profile,
                    strategy: &req.strategy,
                    home: m.home,
                }),
            };
            crate::install::install(m.layout, m.store, &request, m.events)
        }))
    }

    type VerifyStream = Stream;
    async fn verify(&self, req: Request<VerifyRequest>) -> Result<Response<Stream>, Status> {
        let pins = req.into_inner().packages;
        let label = if pins.is_empty() {
            "verify --all".to_string()
        } else {
            format!("verify {}", pins.join(" "))
        };
        Ok(self.mutate(label, move |m| {
            crate::verify::verify(m.layout, m.store, &pins, m.events)
        }))
    }

    type PruneCacheStream = Stream;
    async fn prune_cache(
        &self,
        req: Request<PruneCacheRequest>,
    ) -> Result<Response<Stream>, Status> {
        let dry_run = req.into_inner().dry_run;
        Ok(self.mutate("prune --cache".into(), move |m| {
            crate::prune::prune_cache(m.layout, m.store, dry_run, m.events)
        }))
    }

    type PruneGenerationsStream = Stream;
    async fn prune_generations(
        &self,
        req: Request<PruneGenerationsRequest>,
    ) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let keep = if req.keep == 0 { 10 } else { req.keep as usize };
        Ok(
            self.mutate(format!("prune --generations --keep {keep}"), move |m| {
                crate::activate::prune_generations(m.layout, keep, req.dry_run, m.events)
            }),
        )
    }

    type BuildStream = Stream;
    async fn build(&self, req: Request<BuildRequest>) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        if !req.dir.starts_with('/') || !req.out.starts_with('/') {
            let e = Error::Usage("build takes absolute paths for the recipe and the output".into());
            return Err(to_status(e));
        }
        let label = format!("build {}", req.dir);
        Ok(self.mutate(label, move |m| {
            let request = crate::build::Request {
                dir: std::path::Path::new(&req.dir),
                out: std::path::Path::new(&req.out),
                check: req.check,
                no_cache: req.no_cache,
            };
            crate::build::build(m.layout, m.store, &request, m.events)
        }))
    }

    type CacheExportStream = Stream;
    async fn cache_export(
        &self,
        req: Request<CacheFileRequest>,
    ) -> Result<Response<Stream>, Status> {
        let file = std::path::PathBuf::from(req.into_inner().file);
        Ok(self.mutate("cache export".into(), move |m| {
            crate::build::export_cache(m.layout, &file, m.events)
        }))
    }

    type CacheImportStream = Stream;
    async fn cache_import(
        &self,
        req: Request<CacheFileRequest>,
    ) -> Result<Response<Stream>, Status> {
        let file = std::path::PathBuf::from(req.into_inner().file);
        Ok(self.mutate("cache import".into(), move |m| {
            crate::build::import_cache(m.layout, &file, m.events)
        }))
    }

    type PruneStoreStream = Stream;
    async fn prune_store(
        &self,
        req: Request<PruneStoreRequest>,
    ) -> Result<Response<Stream>, Status> {
        let dry_run = req.into_inner().dry_run;
        Ok(self.mutate("prune --store".into(), move |m| {
            crate::activate::prune_store(m.layout, m.store, dry_run, m.events)
        }))
    }

    type RemoveStream = Stream;
    async fn remove(&self, req: Request<RemoveRequest>) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let label = format!("remove {}", req.package);
        Ok(self.mutate(label, move |m| {
            let request = crate::activate::RemoveRequest {
                package: &req.package,
                profile: &req.profile,
                purge: req.purge,
            };
            crate::activate::remove(m.layout, m.store, &request, m.home, m.events)
        }))
    }

    type AddRegistryStream = Stream;
    async fn add_registry(
        &self,
        req: Request<AddRegistryRequest>,
    ) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        registries::check_new(&req.name, &req.url).map_err(to_status)?;
        let keys = registries::check_keys(&req.keys).map_err(to_status)?;
        let label = format!("registry add {}", req.name);
        Ok(self.mutate(label, move |m| {
            let trust = (!keys.is_empty()).then_some(registries::Pinned {
                keys,
                required: !req.optional_signatures,
            });
            registries::add(m.layout, &req.name, &req.url, req.priority, trust, m.events)
        }))
    }

    type RemoveRegistryStream = Stream;
    async fn remove_registry(
        &self,
        req: Request<RemoveRegistryRequest>,
    ) -> Result<Response<Stream>, Status> {
        let name = req.into_inner().name;
        let label = format!("registry remove {name}");
        Ok(self.mutate(label, move |m| registries::remove(m.layout, &name)))
    }

    async fn list_installed(
        &self,
        req: Request<ListInstalledRequest>,
    ) -> Result<Response<ListInstalledReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let profile = req.into_inner().profile;
        blocking(move || crate::activate::list_installed(&layout, &profile)).await
    }

    async fn graph(&self, req: Request<GraphRequest>) -> Result<Response<GraphReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let store = self.shared.store.load_full();
        let req = req.into_inner();
        blocking(move || {
            crate::graph::graph(&layout, &store, &req.package, &req.profile, req.refresh)
        })
        .await
    }

    async fn metrics(
        &self,
        req: Request<MetricsRequest>,
    ) -> Result<Response<MetricsReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let store = self.shared.store.load_full();
        let req = req.into_inner();
        blocking(move || crate::metrics::metrics(&layout, &store, &req.name, req.refresh)).await
    }

    async fn which(&self, req: Request<WhichRequest>) -> Result<Response<WhichReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let req = req.into_inner();
        blocking(move || crate::activate::which(&layout, &req.path, &req.profile)).await
    }

    async fn list_profiles(
        &self,
        req: Request<ListProfilesRequest>,
    ) -> Result<Response<ListProfilesReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let profile = req.into_inner().profile;
        blocking(move || crate::activate::list_profiles(&layout, &profile)).await
    }

    async fn export_lock(
        &self,
        req: Request<ExportLockRequest>,
    ) -> Result<Response<ExportLockReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let profile = req.into_inner().profile;
        blocking(move || crate::activate::export_lock(&layout, &profile)).await
    }

    type ApplyLockStream = Stream;
    async fn apply_lock(&self, req: Request<ApplyLockRequest>) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let label = format!("lock apply {}", req.origin);
        Ok(self.mutate(label, move |m| {
            crate::activate::apply_lock(
                m.layout,
                m.store,
                &req.text,
                &req.origin,
                &req.profile,
                m.home,
                m.events,
            )
        }))
    }

    type ChangeProfileStream = Stream;
    async fn change_profile(
        &self,
        req: Request<ChangeProfileRequest>,
    ) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let action = req.action();
        let label = format!(
            "profile {} {}",
            action.as_str_name().to_lowercase(),
            req.profile
        );
        // A rollback or a deletion only switches or removes links of profiles.
        let store = match action {
            change_profile_request::Action::Rollback | change_profile_request::Action::Delete => {
                StoreUse::Apart
            }
            _ => StoreUse::Reads,
        };
        Ok(self.mutate_using(label, store, move |m| {
            crate::activate::change_profile(
                m.layout,
                m.store,
                action,
                &req.profile,
                req.generation,
                m.home,
                m.events,
            )
        }))
    }

    type ActivateStream = Stream;
    async fn activate(&self, req: Request<ActivateRequest>) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let label = format!("activate {}", req.package);
        Ok(self.mutate_using(label, StoreUse::Reads, move |m| {
            let request = crate::activate::Request {
                package: &req.package,
                profile: &req.profile,
                strategy: &req.strategy,
            };
            crate::activate::activate(m.layout, m.store, &request, m.home, m.events)
        }))
    }

    type DeactivateStream = Stream;
    async fn deactivate(
        &self,
        req: Request<DeactivateRequest>,
    ) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let label = format!("deactivate {}", req.name);
        Ok(self.mutate_using(label, StoreUse::Reads, move |m| {
            crate::activate::deactivate(
                m.layout,
                m.store,
                &req.name,
                &req.profile,
                m.home,
                m.events,
            )
        }))
    }

    type SetOverrideStream = Stream;
    async fn set_override(
        &self,
        req: Request<SetOverrideRequest>,
    ) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let label = format!("profile override {}", req.path);
        Ok(self.mutate_using(label, StoreUse::Apart, move |m| {
            crate::activate::set_override(m.layout, &req.path, &req.package, &req.profile)
        }))
    }

    type SetSessionPathStream = Stream;
    async fn set_session_path(
        &self,
        req: Request<SetSessionPathRequest>,
    ) -> Result<Response<Stream>, Status> {
        let enable = req.into_inner().enable;
        let label = format!("env --session {}", if enable { "on" } else { "off" });
        Ok(self.mutate(label, move |m| {
            crate::activate::set_session_path(m.layout, m.home, enable)
        }))
    }

    type PublishStream = Stream;
    async fn publish(&self, req: Request<PublishRequest>) -> Result<Response<Stream>, Status> {
        let req = req.into_inner();
        let label = format!("publish {} to {}", req.file, req.registry);
        Ok(self.mutate(label, move |m| {
            let signature =
                (!req.signature.is_empty()).then(|| std::path::Path::new(&req.signature));
            crate::publish::publish(
                m.layout,
                std::path::Path::new(&req.file),
                signature,
                &req.registry,
                m.events,
            )
        }))
    }
}

/// What a queued mutation works with once its turn comes.
struct Mutation<'a> {
    layout: &'a Layout,
    /// The store as it is now: earlier mutations in the queue have finished.
    store: &'a StoreView,
    /// The user's home, where `bin`, `lib` and `etcetera` link into `vir`.
    home: Option<&'a std::path::Path>,
    events: &'a Events,
}

impl Service {
    /// Queues a mutation: it counts as activity until it ends, and gets the layout, the store
    /// as it is when its turn comes, the user's home and its events.
    fn mutate(
        &self,
        label: String,
        work: impl FnOnce(&Mutation<'_>) -> Outcome + Send + 'static,
    ) -> Response<Stream> {
        self.mutate_using(label, StoreUse::Changes, work)
    }

    /// [`Service::mutate`] for a mutation that uses the store only as `uses` says: the
    /// snapshot is refreshed around it only as much as that needs.
    fn mutate_using(
        &self,
        label: String,
        uses: StoreUse,
        work: impl FnOnce(&Mutation<'_>) -> Outcome + Send + 'static,
    ) -> Response<Stream> {
        let guard = self.shared.activity.begin();
        let (layout, store) = (self.shared.layout.clone(), self.shared.store.clone());
        let work = move |events: &Events| {
            let _guard = guard;
            let home = user_home();
            work(&Mutation {
                layout: &layout,
                store: &store.load(),
                home: home.as_deref(),
                events,
            })
        };
        stream(self.shared.engine.submit_using(label, uses, work))
    }
}

/// The user's home, where `bin`, `lib` and `etcetera` link into `vir`.
fn user_home() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(std::path::PathBuf::from)
}

/// Runs a blocking read off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::error::Result<T> + Send + 'static,
) -> Result<Response<T>, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::Internal(format!("the request crashed: {e}"))))
        .map(Response::new)
        .map_err(to_status)
}
