//! The `pandora.v1.Pandora` service: reads answered from the snapshot, mutations queued.

use std::sync::Arc;

use pandora_proto::v1::pandora_server::Pandora;
use pandora_proto::v1::*;
use tonic::{Request, Response, Status};

use super::Shared;
use crate::engine::EventStream;
use crate::registries;

/// The service; one per daemon.
pub(crate) struct Service {
    shared: Arc<Shared>,
}

impl Service {
    pub(crate) fn new(shared: Arc<Shared>) -> Service {
        Service { shared }
    }
}

/// A failed call: gRPC code, stable Pandora code, message and an optional next command.
pub(crate) fn fail(
    code: tonic::Code,
    pandora_code: &str,
    message: impl Into<String>,
    hint: Option<String>,
) -> Status {
    let mut status = Status::new(code, message);
    if let Ok(v) = pandora_code.parse() {
        status.metadata_mut().insert(pandora_proto::CODE_KEY, v);
    }
    if let Some(h) = hint
        && let Ok(v) = h.parse()
    {
        status.metadata_mut().insert(pandora_proto::HINT_KEY, v);
    }
    status
}

type Stream = EventStream;

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
        let store = self.shared.store.load();
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
        Ok(Response::new(ListStoreReply { entries }))
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
        let (layout, query) = (self.shared.layout.clone(), req.into_inner().query);
        blocking(move || crate::reads::search(&layout, &query)).await
    }

    async fn info(&self, req: Request<InfoRequest>) -> Result<Response<InfoReply>, Status> {
        let _g = self.shared.activity.begin();
        let layout = self.shared.layout.clone();
        let store = self.shared.store.load_full();
        let package = req.into_inner().package;
        blocking(move || crate::reads::info(&layout, &store, &package)).await
    }

    async fn list_registries(
        &self,
        _: Request<ListRegistriesRequest>,
    ) -> Result<Response<ListRegistriesReply>, Status> {
        let _g = self.shared.activity.begin();
        let list = registries::load(&self.shared.layout)?;
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
            })
            .collect();
        Ok(Response::new(ListRegistriesReply { registries }))
    }

    type InstallStream = Stream;
    async fn install(&self, req: Request<InstallRequest>) -> Result<Response<Stream>, Status> {
        let guard = self.shared.activity.begin();
        let req = req.into_inner();
        let (packages, plan_only, plan_id) = (req.packages, req.plan_only, req.plan_id);
        if packages.is_empty() {
            return Err(fail(
                tonic::Code::InvalidArgument,
                "usage",
                "name at least one package to install",
                None,
            ));
        }
        let (layout, store) = (self.shared.layout.clone(), self.shared.store.clone());
        let label = format!("install {}", packages.join(" "));
        Ok(Response::new(self.shared.engine.submit(
            label,
            move |events| {
                let _guard = guard;
                // The store as it is now: earlier mutations in the queue have finished.
                let plan = match (plan_only, plan_id.as_str()) {
                    (true, _) => crate::install::Plan::Only,
                    (false, "") => crate::install::Plan::Apply,
                    (false, id) => crate::install::Plan::Confirmed(id),
                };
                crate::install::install(&layout, &store.load(), &packages, plan, events)
            },
        )))
    }

    type VerifyStream = Stream;
    async fn verify(&self, req: Request<VerifyRequest>) -> Result<Response<Stream>, Status> {
        let guard = self.shared.activity.begin();
        let pins = req.into_inner().packages;
        let (layout, store) = (self.shared.layout.clone(), self.shared.store.clone());
        let label = if pins.is_empty() {
            "verify --all".to_string()
        } else {
            format!("verify {}", pins.join(" "))
        };
        Ok(Response::new(self.shared.engine.submit(
            label,
            move |events| {
                let _guard = guard;
                crate::verify::verify(&layout, &store.load(), &pins, events)
            },
        )))
    }

    type PruneCacheStream = Stream;
    async fn prune_cache(
        &self,
        req: Request<PruneCacheRequest>,
    ) -> Result<Response<Stream>, Status> {
        let guard = self.shared.activity.begin();
        let dry_run = req.into_inner().dry_run;
        let layout = self.shared.layout.clone();
        Ok(Response::new(self.shared.engine.submit(
            "prune --cache".to_string(),
            move |events| {
                let _guard = guard;
                crate::prune::prune_cache(&layout, dry_run, events)
            },
        )))
    }

    type AddRegistryStream = Stream;
    async fn add_registry(
        &self,
        req: Request<AddRegistryRequest>,
    ) -> Result<Response<Stream>, Status> {
        let guard = self.shared.activity.begin();
        let req = req.into_inner();
        registries::check_new(&req.name, &req.url)?;
        let layout = self.shared.layout.clone();
        let label = format!("registry add {}", req.name);
        Ok(Response::new(self.shared.engine.submit(
            label,
            move |events| {
                let _guard = guard;
                registries::add(&layout, &req.name, &req.url, req.priority, events)
            },
        )))
    }

    type RemoveRegistryStream = Stream;
    async fn remove_registry(
        &self,
        req: Request<RemoveRegistryRequest>,
    ) -> Result<Response<Stream>, Status> {
        let guard = self.shared.activity.begin();
        let name = req.into_inner().name;
        let layout = self.shared.layout.clone();
        Ok(Response::new(self.shared.engine.submit(
            format!("registry remove {name}"),
            move |_| {
                let _guard = guard;
                registries::remove(&layout, &name)
            },
        )))
    }

    type PublishStream = Stream;
    async fn publish(&self, req: Request<PublishRequest>) -> Result<Response<Stream>, Status> {
        let guard = self.shared.activity.begin();
        let req = req.into_inner();
        let layout = self.shared.layout.clone();
        let label = format!("publish {} to {}", req.file, req.registry);
        Ok(Response::new(self.shared.engine.submit(
            label,
            move |events| {
                let _guard = guard;
                crate::publish::publish(
                    &layout,
                    std::path::Path::new(&req.file),
                    &req.registry,
                    events,
                )
            },
        )))
    }
}

/// Runs a blocking read off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Status> + Send + 'static,
) -> Result<Response<T>, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("the request crashed: {e}")))?
        .map(Response::new)
}
