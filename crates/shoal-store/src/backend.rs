//! Building `object_store` clients for a container (bucket, memory store,
//! directory), with Shoal's timeouts, retries and concurrency bound.
//!
//! Clients are cached per container and settings: opening the same bucket
//! for every task reuses one HTTP connection pool, and the concurrency
//! bound (`max_concurrency`) holds across all handles on that bucket.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use object_store::limit::LimitStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::ObjectStore;

use crate::options::{StoreOptions, Tuning};
use crate::url::Service;
use crate::{StoreError, StoreKind, StoreUrl};

/// Per-request timeout unless `timeout` is set: a dead server fails a
/// request within this, and retries are bounded by `retry_timeout`.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
const DEFAULT_TIMEOUT: &str = "30s";
/// TCP connect timeout unless `connect_timeout` is set.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
const DEFAULT_CONNECT_TIMEOUT: &str = "5s";

/// The client for `url`'s container (its prefix is ignored).
pub(crate) fn container_client(
    url: &StoreUrl,
    options: &StoreOptions,
) -> Result<Arc<dyn ObjectStore>, StoreError> {
    match &url.kind {
        StoreKind::File(dir) => {
            std::fs::create_dir_all(dir).map_err(|err| StoreError::InvalidUrl {
                url: url.to_string(),
                reason: format!("cannot create directory: {err}"),
            })?;
            let fs =
                LocalFileSystem::new_with_prefix(dir).map_err(|error| StoreError::Backend {
                    op: "open",
                    url: url.to_string(),
                    error,
                })?;
            Ok(Arc::new(fs))
        }
        StoreKind::Memory { name, .. } => Ok(memory_store(name)),
        StoreKind::Object {
            service, container, ..
        } => {
            let key = format!(
                "{}://{container}\n{}",
                service.scheme(),
                options.cache_key()
            );
            static CLIENTS: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> =
                OnceLock::new();
            let mut clients = CLIENTS
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(client) = clients.get(&key) {
                return Ok(client.clone());
            }
            let tuning = options.tuning()?;
            let raw = build(*service, container, options, &tuning, url)?;
            let client: Arc<dyn ObjectStore> =
                Arc::new(LimitStore::new(raw, tuning.max_concurrency));
            clients.insert(key, client.clone());
            Ok(client)
        }
    }
}

/// In-memory stores by name: `memory://x` opened twice is the same store,
/// so a driver and the tasks it runs in-process see each other's writes.
fn memory_store(name: &str) -> Arc<dyn ObjectStore> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    let mut stores = STORES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    stores
        .entry(name.to_string())
        .or_insert_with(|| Arc::new(InMemory::new()))
        .clone()
}

/// A boxed backend; `LimitStore` needs a sized inner type.
type Backend = Box<dyn ObjectStore>;

fn build(
    service: Service,
    container: &str,
    options: &StoreOptions,
    tuning: &Tuning,
    url: &StoreUrl,
) -> Result<Backend, StoreError> {
    // Each arm is the client when its feature is built, else an error
    // naming the feature; the settings are unused when no client is built
    // (a library built without default features, say).
    let _ = (container, options, tuning);
    match service {
        #[cfg(feature = "aws")]
        Service::S3 => s3::build(container, options, tuning, url),
        #[cfg(feature = "gcp")]
        Service::Gcs => gcs::build(container, options, tuning, url),
        #[cfg(feature = "azure")]
        Service::Azure => azure::build(container, options, tuning, url),
        #[cfg(feature = "hdfs")]
        Service::Hdfs => hdfs::build(container, options, url),
        #[allow(unreachable_patterns)]
        other => Err(not_built(url, other)),
    }
}

/// Object-store retry policy from Shoal's tuning: exponential backoff
/// from 100 ms, bounded in count and total time.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn retry_config(tuning: &Tuning) -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(4),
            base: 2.0,
        },
        max_retries: tuning.max_retries,
        retry_timeout: tuning.retry_timeout,
    }
}

/// Applies Shoal's defaults, then the user's settings, through the
/// builder's own key parser: an unknown key is an error naming it.
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
fn apply_options<B, K: std::str::FromStr>(
    mut builder: B,
    options: &StoreOptions,
    with_config: impl Fn(B, K, &str) -> B,
    service: &'static str,
) -> Result<B, StoreError> {
    let defaults = [
        ("timeout", DEFAULT_TIMEOUT),
        ("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
    ];
    for (key, value) in defaults {
        if options.get(key).is_none() {
            if let Ok(k) = key.parse::<K>() {
                builder = with_config(builder, k, value);
            }
        }
    }
    for (key, value) in options.backend_pairs() {
        let k = key.parse::<K>().map_err(|_| StoreError::InvalidOption {
            key: key.to_string(),
            reason: format!("not a {service} setting"),
        })?;
        builder = with_config(builder, k, value);
    }
    Ok(builder)
}

/// The error for a service this build leaves out, naming its feature.
#[cfg_attr(
    all(feature = "aws", feature = "gcp", feature = "azure", feature = "hdfs"),
    allow(dead_code)
)]
fn not_built(url: &StoreUrl, service: Service) -> StoreError {
    let (service, feature) = match service {
        Service::S3 => ("S3", "aws"),
        Service::Gcs => ("Google Cloud Storage", "gcp"),
        Service::Azure => ("Azure Blob Storage", "azure"),
        Service::Hdfs => ("HDFS", "hdfs"),
    };
    StoreError::NotBuilt {
        url: url.to_string(),
        service,
        feature,
    }
}

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure", feature = "hdfs"))]
fn build_error(url: &StoreUrl, error: object_store::Error) -> StoreError {
    StoreError::Backend {
        op: "open",
        url: url.to_string(),
        error,
    }
}

#[cfg(feature = "aws")]
mod s3 {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

    use super::*;

    /// `AWS_*` variables first, then `--store-opt`. With a custom endpoint
    /// (a self-hosted server) requests are path-style unless the user says
    /// otherwise, `http://` endpoints are allowed, and the region defaults
    /// to `us-east-1` (ignored by such servers but needed for signing).
    pub(super) fn build(
        bucket: &str,
        options: &StoreOptions,
        tuning: &Tuning,
        url: &StoreUrl,
    ) -> Result<Backend, StoreError> {
        let builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry_config(tuning));
        let mut builder = apply_options(
            builder,
            options,
            |b: AmazonS3Builder, k: AmazonS3ConfigKey, v| b.with_config(k, v),
            "S3",
        )?;
        if let Some(endpoint) = builder.get_config_value(&AmazonS3ConfigKey::Endpoint) {
            if options.get("virtual_hosted_style_request").is_none()
                && options.get("aws_virtual_hosted_style_request").is_none()
                && std::env::var_os("AWS_VIRTUAL_HOSTED_STYLE_REQUEST").is_none()
            {
                builder = builder.with_virtual_hosted_style_request(false);
            }
            if endpoint.starts_with("http://")
                && options.get("allow_http").is_none()
                && std::env::var_os("AWS_ALLOW_HTTP").is_none()
            {
                builder = builder.with_allow_http(true);
            }
            if builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .is_none()
            {
                builder = builder.with_region("us-east-1");
            }
        }
        // Large commits are staged with a multipart upload and published
        // with a conditional multipart copy; see `Store::put_if_absent_parts`.
        if builder
            .get_config_value(&AmazonS3ConfigKey::CopyIfNotExists)
            .is_none()
        {
            builder = builder.with_config(AmazonS3ConfigKey::CopyIfNotExists, "multipart");
        }
        let store = builder.build().map_err(|e| build_error(url, e))?;
        Ok(Box::new(store))
    }
}

#[cfg(feature = "gcp")]
mod gcs {
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};

    use super::*;

    /// `GOOGLE_*` variables first, then `--store-opt`.
    pub(super) fn build(
        bucket: &str,
        options: &StoreOptions,
        tuning: &Tuning,
        url: &StoreUrl,
    ) -> Result<Backend, StoreError> {
        let builder = GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry_config(tuning));
        let builder = apply_options(
            builder,
            options,
            |b: GoogleCloudStorageBuilder, k: GoogleConfigKey, v| b.with_config(k, v),
            "GCS",
        )?;
        Ok(Box::new(builder.build().map_err(|e| build_error(url, e))?))
    }
}

#[cfg(feature = "azure")]
mod azure {
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};

    use super::*;

    /// `AZURE_*` variables first, then `--store-opt` (the account comes
    /// from `account_name` / `AZURE_STORAGE_ACCOUNT_NAME`).
    pub(super) fn build(
        container: &str,
        options: &StoreOptions,
        tuning: &Tuning,
        url: &StoreUrl,
    ) -> Result<Backend, StoreError> {
        let builder = MicrosoftAzureBuilder::from_env()
            .with_container_name(container)
            .with_retry(retry_config(tuning));
        let builder = apply_options(
            builder,
            options,
            |b: MicrosoftAzureBuilder, k: AzureConfigKey, v| b.with_config(k, v),
            "Azure",
        )?;
        Ok(Box::new(builder.build().map_err(|e| build_error(url, e))?))
    }
}

/// Hadoop client configuration from `--store-opt`: every backend key as
/// given (Hadoop keys are dotted and case-sensitive in meaning, e.g.
/// `dfs.client.use.datanode.hostname=true`); Shoal's own keys excluded.
#[cfg_attr(not(feature = "hdfs"), allow(dead_code))]
fn hadoop_config(options: &StoreOptions) -> HashMap<String, String> {
    options
        .backend_pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(feature = "hdfs")]
mod hdfs {
    use hdfs_native_object_store::HdfsObjectStoreBuilder;

    use super::*;

    /// The namenode comes from the URL; every `--store-opt` is passed as
    /// a Hadoop configuration key (e.g. `dfs.client.use.datanode.hostname`
    /// or HA nameservice settings), on top of `HADOOP_CONF_DIR`'s files.
    pub(super) fn build(
        namenode: &str,
        options: &StoreOptions,
        url: &StoreUrl,
    ) -> Result<Backend, StoreError> {
        let store = HdfsObjectStoreBuilder::new()
            .with_url(format!("hdfs://{namenode}"))
            .with_config(hadoop_config(options))
            .with_io_runtime(crate::rt::runtime().handle().clone())
            .build()
            .map_err(|e| build_error(url, e))?;
        Ok(Box::new(store))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdfs_settings_pass_through_as_hadoop_keys() {
        let options =
            StoreOptions::parse(&["dfs.client.use.datanode.hostname=true", "max_retries=2"])
                .unwrap();
        let config = hadoop_config(&options);
        assert_eq!(config.len(), 1);
        assert_eq!(config["dfs.client.use.datanode.hostname"], "true");
    }

    #[test]
    fn services_left_out_of_the_build_name_their_feature() {
        let cases = [
            ("hdfs://namenode:9000/data", "hdfs", cfg!(feature = "hdfs")),
            ("gs://bucket/x", "gcp", cfg!(feature = "gcp")),
            ("az://container/x", "azure", cfg!(feature = "azure")),
        ];
        for (url, feature, built) in cases {
            if built {
                continue;
            }
            let parsed = StoreUrl::parse(url).unwrap();
            let err = container_client(&parsed, &StoreOptions::new()).expect_err("not built");
            assert!(matches!(err, StoreError::NotBuilt { .. }), "{err}");
            assert!(
                err.to_string().contains(&format!("--features {feature}")),
                "{err}"
            );
        }
    }
}
