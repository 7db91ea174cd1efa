//! [`S3Store`]: a [`Store`] in an S3 bucket (AWS, or any S3-compatible
//! server: MinIO, Ceph, R2, moto), built on the `object_store` crate.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{
    ClientConfigKey, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, PutPayloadMut,
    PutResult, RetryConfig, UpdateVersion, WriteMultipart,
};

use super::object::{ObjectMeta, Put, Store, invalid_path, valid_path};
use super::runtime::block_on;
use super::versioned::{ObjectVersion, VersionedStore};

/// Outputs from this size on are uploaded in parts (S3's multipart upload),
/// unless [`S3StoreBuilder::multipart_threshold`] says otherwise.
const MULTIPART_THRESHOLD: usize = 32 << 20;
/// The size of each part.
const PART_SIZE: usize = 16 << 20;
/// Parts in flight at once.
const PARTS_IN_FLIGHT: usize = 4;

/// A [`Store`] in an S3 bucket, below a prefix: a cache that every machine
/// with access to the bucket shares (behind its own local tier; see
/// [`Memory::with_store`](crate::Memory::with_store)).
///
/// `Memory::new("s3://bucket/prefix")` opens one configured from the
/// environment; [`S3Store::builder`] configures one in code. Both read the
/// usual variables: `AWS_ENDPOINT_URL` (for S3-compatible servers),
/// `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, and `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint.
///
/// Small entries are written with one `PUT`; creating one is conditional
/// (`If-None-Match: *`), so of two machines storing the same entry the
/// first wins and the second leaves it in place. Entries from 32 MiB on
/// are uploaded in 16 MiB parts, four at a time; S3 makes the object
/// visible only when the upload completes, so readers never see part of
/// one. `docs/backends.md` says what this guarantees across machines.
///
/// Requests time out after 60 s (5 s to connect) and are retried at most
/// three times within 15 s: a cache must not hold a computation up for long.
pub struct S3Store {
    store: Arc<AmazonS3>,
    bucket: String,
    /// Below the bucket: no leading or trailing `/`; may be empty.
    prefix: String,
    multipart_threshold: usize,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("location", &self.location())
            .finish()
    }
}

/// Configures an [`S3Store`]; starts from the environment (see
/// [`S3Store`]), and every setting here overrides it.
///
/// ```
/// let store = memory::store::S3Store::builder()
///     .bucket("results")
///     .prefix("team/memo")
///     .endpoint("http://127.0.0.1:9000") // plain HTTP is allowed for an http:// endpoint
///     .region("us-east-1")
///     .credentials("access key id", "secret access key")
///     .build()
///     .unwrap(); // no request is made until the store is used
/// assert_eq!(store.to_string(), "s3://results/team/memo");
/// ```
#[derive(Debug)]
#[must_use]
pub struct S3StoreBuilder {
    inner: AmazonS3Builder,
    bucket: Option<String>,
    prefix: String,
    multipart_threshold: usize,
}

impl S3Store {
    /// A builder, starting from the environment.
    pub fn builder() -> S3StoreBuilder {
        S3StoreBuilder {
            inner: AmazonS3Builder::from_env(),
            bucket: None,
            prefix: String::new(),
            multipart_threshold: MULTIPART_THRESHOLD,
        }
    }

    /// The store at `s3://bucket/prefix`, configured from the environment.
    pub fn from_url(url: &str) -> io::Result<S3Store> {
        let rest = url
            .strip_prefix("s3://")
            .or_else(|| url.strip_prefix("s3a://"))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{url} is not an s3:// URL"),
                )
            })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        S3Store::builder().bucket(bucket).prefix(prefix).build()
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The prefix below which entries live (`""`: the whole bucket).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn object(&self, path: &str) -> io::Result<ObjectPath> {
        if !valid_path(path) {
            return Err(invalid_path(path));
        }
        Ok(self.under_prefix(path))
    }

    fn under_prefix(&self, path: &str) -> ObjectPath {
        match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => ObjectPath::from(path),
            (false, true) => ObjectPath::from(self.prefix.as_str()),
            (false, false) => ObjectPath::from(format!("{}/{path}", self.prefix)),
        }
    }

    /// `location` relative to the prefix.
    fn relative<'a>(&self, location: &'a str) -> Option<&'a str> {
        if self.prefix.is_empty() {
            return Some(location);
        }
        location
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('/')
    }

    fn error(&self, path: &str, error: object_store::Error) -> io::Error {
        let kind = match &error {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => io::ErrorKind::PermissionDenied,
            object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("{}/{path}: {error}", self.location()))
    }

    async fn put_parts(
        &self,
        object: &ObjectPath,
        parts: &[&[u8]],
        mode: PutMode,
    ) -> object_store::Result<()> {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        if len < self.multipart_threshold {
            let mut payload = PutPayloadMut::new();
            for part in parts {
                payload.extend_from_slice(part);
            }
            let options = PutOptions {
                mode,
                ..PutOptions::default()
            };
            return self
                .store
                .put_opts(object, payload.freeze(), options)
                .await
                .map(drop);
        }
        // S3 cannot complete a multipart upload conditionally through
        // object_store: look first, so a large entry someone else stored
        // is not uploaded again (see docs/backends.md for the window).
        if matches!(mode, PutMode::Create) {
            match self.store.head(object).await {
                Ok(_) => {
                    return Err(object_store::Error::AlreadyExists {
                        path: object.to_string(),
                        source: "the object exists".into(),
                    });
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let upload = self.store.put_multipart(object).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        for part in parts {
            for chunk in part.chunks(PART_SIZE) {
                if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    let _ = writer.abort().await;
                    return Err(e);
                }
                writer.write(chunk);
            }
        }
        writer.finish().await.map(drop)
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl S3StoreBuilder {
    /// The bucket (required, unless `AWS_BUCKET` names it).
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// The prefix below which entries live: `team/memo` keeps them under
    /// `s3://bucket/team/memo/`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_matches('/').to_owned();
        self
    }

    /// The endpoint of an S3-compatible server, e.g.
    /// `http://127.0.0.1:9000`. An `http://` endpoint allows plain HTTP.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        if url.starts_with("http://") {
            self.inner = self.inner.with_allow_http(true);
        }
        self.inner = self.inner.with_endpoint(url);
        self
    }

    /// The region (`us-east-1` if neither this nor `AWS_REGION` says).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.inner = self.inner.with_region(region);
        self
    }

    /// Static credentials, instead of the environment's (or an instance's
    /// role).
    pub fn credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.inner = self
            .inner
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret_access_key);
        self
    }

    /// A session token, with temporary credentials.
    pub fn session_token(mut self, token: impl Into<String>) -> Self {
        self.inner = self.inner.with_token(token);
        self
    }

    /// Whether plain HTTP is allowed (for a local test server).
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.inner = self.inner.with_allow_http(allow);
        self
    }

    /// Entries of this many bytes or more are uploaded in parts (default
    /// 32 MiB; S3 allows parts of 5 MiB to 5 GiB).
    pub fn multipart_threshold(mut self, bytes: usize) -> Self {
        self.multipart_threshold = bytes.max(1);
        self
    }

    /// The store. No request is made: a wrong endpoint or credentials
    /// show up on first use (as a warning, and calls running uncached).
    pub fn build(self) -> io::Result<S3Store> {
        let mut inner = self.inner;
        if let Some(bucket) = &self.bucket {
            inner = inner.with_bucket_name(bucket);
        }
        let bucket = inner
            .get_config_value(&AmazonS3ConfigKey::Bucket)
            .filter(|bucket| !bucket.is_empty())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no S3 bucket given"))?;
        // A cache must fail fast: a dead server costs seconds, not minutes.
        let store = inner
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "60s")
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "5s",
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(15),
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket,
            prefix: self.prefix,
            multipart_threshold: self.multipart_threshold,
        })
    }
}

impl Store for S3Store {
    fn location(&self) -> String {
        self.to_string()
    }

    fn get(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let object = self.object(path)?;
        let got = block_on(async {
            match self.store.get(&object).await {
                Ok(result) => result.bytes().await.map(|bytes| Some(bytes.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        got.map_err(|e| self.error(path, e))
    }

    fn get_to(&self, path: &str, out: &mut (dyn io::Write + Send)) -> io::Result<bool> {
        let object = self.object(path)?;
        block_on(async {
            let result = match self.store.get(&object).await {
                Ok(result) => result,
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(self.error(path, e)),
            };
            let mut chunks = result.into_stream();
            while let Some(chunk) = chunks.next().await {
                out.write_all(&chunk.map_err(|e| self.error(path, e))?)?;
            }
            Ok(true)
        })?
    }

    fn put(&self, path: &str, parts: &[&[u8]]) -> io::Result<()> {
        let object = self.object(path)?;
        block_on(self.put_parts(&object, parts, PutMode::Overwrite))?
            .map_err(|e| self.error(path, e))
    }

    fn put_if_absent(&self, path: &str, parts: &[&[u8]]) -> io::Result<Put> {
        let object = self.object(path)?;
        match block_on(self.put_parts(&object, parts, PutMode::Create))? {
            Ok(()) => Ok(Put::Created),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Put::Exists),
            Err(e) => Err(self.error(path, e)),
        }
    }

    fn head(&self, path: &str) -> io::Result<Option<ObjectMeta>> {
        let object = self.object(path)?;
        match block_on(self.store.head(&object))? {
            Ok(meta) => Ok(Some(ObjectMeta {
                path: path.to_owned(),
                size: meta.size,
                modified: SystemTime::from(meta.last_modified),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error(path, e)),
        }
    }

    fn delete(&self, path: &str) -> io::Result<()> {
        let object = self.object(path)?;
        match block_on(self.store.delete(&object))? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error(path, e)),
        }
    }

    fn delete_many(&self, paths: &[String]) -> Vec<String> {
        let objects: Vec<_> = match paths.iter().map(|p| self.object(p)).collect() {
            Ok(objects) => objects,
            Err(_) => return paths.to_vec(),
        };
        let failed = block_on(async {
            let locations = futures_util::stream::iter(objects.into_iter().map(Ok)).boxed();
            self.store
                .delete_stream(locations)
                .filter(|result| {
                    std::future::ready(!matches!(
                        result,
                        Ok(_) | Err(object_store::Error::NotFound { .. })
                    ))
                })
                .count()
                .await
        });
        match failed {
            Ok(0) => Vec::new(),
            // The bulk request does not say which failed: ask one by one.
            _ => paths
                .iter()
                .filter(|path| self.delete(path).is_err())
                .cloned()
                .collect(),
        }
    }

    fn list(&self, prefix: &str) -> io::Result<Vec<ObjectMeta>> {
        let prefix = prefix.trim_matches('/');
        if !prefix.is_empty() && !valid_path(prefix) {
            return Err(invalid_path(prefix));
        }
        let below = self.under_prefix(prefix);
        let root = (!below.as_ref().is_empty()).then_some(&below);
        let listed: Vec<object_store::ObjectMeta> =
            block_on(self.store.list(root).try_collect())?.map_err(|e| self.error(prefix, e))?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| {
                let path = self.relative(meta.location.as_ref())?.to_owned();
                Some(ObjectMeta {
                    path,
                    size: meta.size,
                    modified: SystemTime::from(meta.last_modified),
                })
            })
            .collect())
    }

    fn versioned(&self) -> Option<&dyn VersionedStore> {
        Some(self)
    }
}

impl S3Store {
    /// A small object written with `mode`; `Ok(None)` when its condition
    /// failed. The version's time is the server's answer to a `HEAD`
    /// only when needed: a write's response has no `Last-Modified`, so
    /// the local clock stands in (leases judge their own writes by tag).
    async fn put_small(
        &self,
        object: &ObjectPath,
        bytes: &[u8],
        mode: PutMode,
    ) -> object_store::Result<Option<ObjectVersion>> {
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self.store.put_opts(object, payload, options).await {
            Ok(PutResult {
                e_tag: Some(tag), ..
            }) => Ok(Some(ObjectVersion {
                tag,
                modified: SystemTime::now(),
            })),
            Ok(PutResult { e_tag: None, .. }) => Err(object_store::Error::Generic {
                store: "S3",
                source: "the server gave no ETag for a write".into(),
            }),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. }
                | object_store::Error::NotFound { .. },
            ) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl VersionedStore for S3Store {
    fn get_versioned(&self, path: &str) -> io::Result<Option<(Vec<u8>, ObjectVersion)>> {
        let object = self.object(path)?;
        let got = block_on(async {
            let result = match self.store.get(&object).await {
                Ok(result) => result,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let version = ObjectVersion {
                tag: result.meta.e_tag.clone().unwrap_or_default(),
                modified: SystemTime::from(result.meta.last_modified),
            };
            let bytes = result.bytes().await?;
            Ok(Some((bytes.to_vec(), version)))
        })?;
        got.map_err(|e| self.error(path, e))
    }

    fn create(&self, path: &str, bytes: &[u8]) -> io::Result<Option<ObjectVersion>> {
        let object = self.object(path)?;
        block_on(self.put_small(&object, bytes, PutMode::Create))?.map_err(|e| self.error(path, e))
    }

    fn replace(
        &self,
        path: &str,
        bytes: &[u8],
        expected: &ObjectVersion,
    ) -> io::Result<Option<ObjectVersion>> {
        let object = self.object(path)?;
        let mode = PutMode::Update(UpdateVersion {
            e_tag: Some(expected.tag.clone()),
            version: None,
        });
        block_on(self.put_small(&object, bytes, mode))?.map_err(|e| self.error(path, e))
    }
}
