//! Parsing store URLs into a backend kind, a container and a key prefix.
//!
//! Object-store URLs never carry credentials: they come from the standard
//! environment variables or `--store-opt` (see [`crate::StoreOptions`]). A
//! URL with a `user:password@` part is refused, and the refusal does not
//! repeat the password.

use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

/// An object-store service reached over the network (or, for HDFS, the
/// namenode's RPC protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// Amazon S3 or any S3-compatible server (MinIO, Ceph RGW, Garage,
    /// SeaweedFS, s3s): `s3://bucket/prefix` (also `s3a://`).
    S3,
    /// Google Cloud Storage: `gs://bucket/prefix` (cargo feature `gcp`).
    Gcs,
    /// Azure Blob Storage: `az://container/prefix` (cargo feature `azure`).
    Azure,
    /// HDFS through a pure-Rust client: `hdfs://namenode:port/path`
    /// (cargo feature `hdfs`).
    Hdfs,
}

impl Service {
    /// The URL scheme Shoal prints for this service.
    pub fn scheme(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Gcs => "gs",
            Service::Azure => "az",
            Service::Hdfs => "hdfs",
        }
    }

    fn from_scheme(scheme: &str) -> Option<Service> {
        Some(match scheme {
            "s3" | "s3a" => Service::S3,
            "gs" | "gcs" => Service::Gcs,
            "az" | "azure" | "abfs" => Service::Azure,
            "hdfs" | "viewfs" => Service::Hdfs,
            _ => return None,
        })
    }

    /// What the container part of the URL is called, for messages.
    fn container_noun(self) -> &'static str {
        match self {
            Service::S3 | Service::Gcs => "bucket",
            Service::Azure => "container",
            Service::Hdfs => "namenode host:port",
        }
    }
}

/// Which backend a store URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// A local directory, or a shared POSIX mount.
    File(PathBuf),
    /// A named process-wide in-memory store: `memory://name[/prefix]`.
    Memory {
        /// The store's name: handles opened with the same name share objects.
        name: String,
        /// Key prefix inside it ('' for the whole store).
        prefix: String,
    },
    /// An object store or HDFS.
    Object {
        /// Which service.
        service: Service,
        /// The bucket or container (for HDFS the namenode `host:port`).
        container: String,
        /// Key prefix inside it, without leading or trailing `/`.
        prefix: String,
    },
}

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The backend and its root.
    pub kind: StoreKind,
}

impl StoreUrl {
    /// Parses `file:///dir`, a bare path, `memory://name[/prefix]`,
    /// `s3://bucket[/prefix]`, `gs://…`, `az://…` or `hdfs://host:port[/path]`.
    pub fn parse(text: &str) -> Result<StoreUrl, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: redact_url(text),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(invalid("empty URL"));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(StoreUrl {
                kind: StoreKind::File(absolute(PathBuf::from(text))),
            });
        };
        let kind = match scheme {
            "file" => {
                if rest.is_empty() {
                    return Err(invalid("file:// needs a path, e.g. file:///data/shoal"));
                }
                StoreKind::File(absolute(PathBuf::from(rest)))
            }
            "memory" => {
                let (name, prefix) = split_container(rest);
                StoreKind::Memory { name, prefix }
            }
            other => {
                let Some(service) = Service::from_scheme(other) else {
                    return Err(invalid(&format!(
                        "unsupported scheme '{other}' (supported: file://, memory://, s3://, gs://, az://, hdfs://)"
                    )));
                };
                let (container, prefix) = split_container(rest);
                if container.contains('@') {
                    return Err(invalid(
                        "credentials do not belong in the URL: use the AWS_*/GOOGLE_*/AZURE_* \
                         environment variables or --store-opt",
                    ));
                }
                if container.is_empty() {
                    return Err(invalid(&format!(
                        "{}:// needs a {}, e.g. {}://{}/prefix",
                        service.scheme(),
                        service.container_noun(),
                        service.scheme(),
                        if service == Service::Hdfs {
                            "namenode:9000"
                        } else {
                            "my-bucket"
                        }
                    )));
                }
                StoreKind::Object {
                    service,
                    container,
                    prefix,
                }
            }
        };
        Ok(StoreUrl { kind })
    }

    /// The key prefix below the container ('' for the container's root,
    /// and for local directories, whose root is the directory itself).
    pub fn prefix(&self) -> &str {
        match &self.kind {
            StoreKind::File(_) => "",
            StoreKind::Memory { prefix, .. } | StoreKind::Object { prefix, .. } => prefix,
        }
    }

    /// The same URL without its key prefix: the bucket, container or
    /// named memory store itself. Local directories are their own root.
    pub fn container_root(&self) -> StoreUrl {
        let kind = match &self.kind {
            StoreKind::File(path) => StoreKind::File(path.clone()),
            StoreKind::Memory { name, .. } => StoreKind::Memory {
                name: name.clone(),
                prefix: String::new(),
            },
            StoreKind::Object {
                service, container, ..
            } => StoreKind::Object {
                service: *service,
                container: container.clone(),
                prefix: String::new(),
            },
        };
        StoreUrl { kind }
    }
}

/// `container/a/b/` → (`container`, `a/b`).
fn split_container(rest: &str) -> (String, String) {
    let (container, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (container.to_string(), prefix.trim_matches('/').to_string())
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(&path))
            .unwrap_or(path)
    }
}

/// `text` with any `user:password@` part replaced by `***@`, for messages.
pub fn redact_url(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => text.to_string(),
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, container, prefix) = match &self.kind {
            StoreKind::File(path) => return write!(f, "file://{}", path.display()),
            StoreKind::Memory { name, prefix } => ("memory", name, prefix),
            StoreKind::Object {
                service,
                container,
                prefix,
            } => (service.scheme(), container, prefix),
        };
        write!(f, "{scheme}://{container}")?;
        if !prefix.is_empty() {
            write!(f, "/{prefix}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(service: Service, container: &str, prefix: &str) -> StoreKind {
        StoreKind::Object {
            service,
            container: container.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn parses_each_form() {
        let cases = [
            ("file:///tmp/x", StoreKind::File("/tmp/x".into())),
            ("/tmp/y", StoreKind::File("/tmp/y".into())),
            (
                "memory://m1",
                StoreKind::Memory {
                    name: "m1".into(),
                    prefix: String::new(),
                },
            ),
            (
                "memory://m1/a/b/",
                StoreKind::Memory {
                    name: "m1".into(),
                    prefix: "a/b".into(),
                },
            ),
            ("s3://bkt", object(Service::S3, "bkt", "")),
            ("s3://bkt/events/", object(Service::S3, "bkt", "events")),
            ("s3a://bkt/a/b", object(Service::S3, "bkt", "a/b")),
            ("gs://bkt/x", object(Service::Gcs, "bkt", "x")),
            ("az://cont/x", object(Service::Azure, "cont", "x")),
            (
                "hdfs://nn:9000/user/shoal",
                object(Service::Hdfs, "nn:9000", "user/shoal"),
            ),
        ];
        for (text, kind) in cases {
            assert_eq!(StoreUrl::parse(text).unwrap().kind, kind, "{text}");
        }
        for bad in ["ftp://x", "", "file://", "s3://", "s3:///prefix", "hdfs://"] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "file:///data/shoal",
            "memory://m/p",
            "s3://bkt/a/b",
            "gs://b",
            "az://c/d",
            "hdfs://nn:8020/x",
        ] {
            let url = StoreUrl::parse(text).unwrap();
            assert_eq!(url.to_string(), text);
            assert_eq!(StoreUrl::parse(&url.to_string()).unwrap(), url);
        }
    }

    #[test]
    fn container_root_drops_the_prefix() {
        let url = StoreUrl::parse("s3://bkt/a/b").unwrap();
        assert_eq!(url.prefix(), "a/b");
        assert_eq!(url.container_root().to_string(), "s3://bkt");
    }

    #[test]
    fn credentials_in_urls_are_refused_without_echoing_them() {
        let err = StoreUrl::parse("s3://AKIA:s3cr3t@bkt/x").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("***@bkt/x"), "{text}");
        assert_eq!(redact_url("redis://u:p@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact_url("s3://b/k@x"), "s3://b/k@x");
    }
}
