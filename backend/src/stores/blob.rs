//! The blob store: S3 (or any S3-compatible server) in production, a local folder when
//! embedded. Clients upload and download straight from it through signed URLs; the local
//! folder serves its own signed URLs (see `blob_http`).
//! Over 700 lines: the blob store's contract and both backends (S3; a local folder with signed
//! URLs) side by side, so that a change to the contract is made to both.
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use async_trait::async_trait;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::S3Settings;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: String,
    pub etag: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UploadedPart {
    pub part_number: i32,
    pub etag: String,
}

/// When a signed URL starts being valid and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Validity {
    pub from: SystemTime,
    pub lasts: Duration,
}

impl Validity {
    pub fn for_next(lasts: Duration) -> Self {
        Self {
            from: SystemTime::now(),
            lasts,
        }
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> anyhow::Result<()>;
    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>>;
    /// At most `len` bytes from `start` (fewer at the end of the object), without reading the
    /// rest: large files are hashed and inspected piece by piece.
    async fn get_range(&self, key: &str, start: u64, len: u64) -> anyhow::Result<Option<Bytes>>;
    async fn head(&self, key: &str) -> anyhow::Result<Option<BlobMeta>>;
    async fn delete(&self, key: &str) -> anyhow::Result<()>;
    /// A signed GET whose response declares `content_type` whatever the object was stored with
    /// (S3 through `response-content-type`; the local folder serves the type checked at upload).
    async fn signed_get_url(
        &self,
        key: &str,
        content_type: &str,
        validity: Validity,
    ) -> anyhow::Result<String>;
    /// A PUT URL bound to one content type: the uploader must send that `Content-Type`.
    /// A signed PUT of exactly `size` bytes of `content_type`: the store refuses any other
    /// length (S3 through the signed `Content-Length`, the local folder as it reads).
    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        validity: Validity,
    ) -> anyhow::Result<String>;
    async fn create_multipart(&self, key: &str, content_type: &str) -> anyhow::Result<String>;
    /// A signed PUT of one part of exactly `size` bytes.
    async fn signed_part_url(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        size: u64,
        validity: Validity,
    ) -> anyhow::Result<String>;
    /// Moves an object to another key (a checked upload leaves its staging key, so the upload's
    /// URL, still valid for a while, can no longer change what was checked).
    async fn rename(&self, from: &str, to: &str) -> anyhow::Result<()>;
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> anyhow::Result<()>;
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> anyhow::Result<()>;
    async fn ping(&self) -> anyhow::Result<()>;
    /// The keys directly inside `folder` (not below its subfolders), in byte order.
    async fn list(&self, folder: &str) -> anyhow::Result<Vec<String>>;
    fn kind(&self) -> &'static str;
}

pub type SharedBlobStore = Arc<dyn BlobStore>;

/// Keys are made by the service, but a key still must never climb out of its folder.
pub fn check_key(key: &str) -> anyhow::Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    if !ok {
        bail!("invalid blob key `{key}`");
    }
    Ok(())
}

fn quoted_sha256(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(bytes)))
}

// ---------------------------------------------------------------------------------------------
// Local folder

pub struct LocalBlobStore {
    root: PathBuf,
    /// Base URL of this service, where `blob_http` answers signed URLs.
    public_base: String,
    signing_key: Vec<u8>,
}

/// What a signed local URL allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalGrant {
    Get,
    Put {
        content_type: String,
        size: u64,
    },
    Part {
        upload_id: String,
        part_number: i32,
        size: u64,
    },
}

impl LocalGrant {
    /// How many bytes the grant's PUT must carry.
    pub fn size(&self) -> Option<u64> {
        match self {
            LocalGrant::Get => None,
            LocalGrant::Put { size, .. } | LocalGrant::Part { size, .. } => Some(*size),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct UploadInfo {
    key: String,
    content_type: String,
}

impl LocalBlobStore {
    pub fn new(root: PathBuf, public_base: String, signing_key: Vec<u8>) -> anyhow::Result<Self> {
        for sub in ["objects", "meta", "uploads"] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("cannot create the blob folder {}", root.display()))?;
        }
        Ok(Self {
            root,
            public_base,
            signing_key,
        })
    }

    fn object_path(&self, key: &str) -> PathBuf {
        self.root.join("objects").join(key)
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.root.join("meta").join(format!("{key}.json"))
    }

    fn upload_dir(&self, upload_id: &str) -> anyhow::Result<PathBuf> {
        if upload_id.len() != 32 || !upload_id.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!("invalid upload id");
        }
        Ok(self.root.join("uploads").join(upload_id))
    }

    fn signature(&self, key: &str, grant: &LocalGrant, expires: u64) -> String {
        let grant_text = match grant {
            LocalGrant::Get => "get".to_owned(),
            LocalGrant::Put { content_type, size } => format!("put\n{content_type}\n{size}"),
            LocalGrant::Part {
                upload_id,
                part_number,
                size,
            } => format!("part\n{upload_id}\n{part_number}\n{size}"),
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.signing_key)
            .expect("any key length works for HMAC");
        mac.update(format!("{key}\n{expires}\n{grant_text}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn signed_url(
        &self,
        key: &str,
        grant: LocalGrant,
        validity: Validity,
    ) -> anyhow::Result<String> {
        check_key(key)?;
        let expires = (validity.from + validity.lasts)
            .duration_since(UNIX_EPOCH)?
            .as_secs();
        let sig = self.signature(key, &grant, expires);
        let extra = match &grant {
            LocalGrant::Get => String::new(),
            LocalGrant::Put { size, .. } => format!("&size={size}"),
            LocalGrant::Part {
                upload_id,
                part_number,
                size,
            } => format!("&upload={upload_id}&part={part_number}&size={size}"),
        };
        Ok(format!(
            "{}/blobs/{key}?expires={expires}&sig={sig}{extra}",
            self.public_base
        ))
    }

    /// Checks a signed URL's parameters; the caller answers 403 on `false`.
    pub fn verify(&self, key: &str, grant: &LocalGrant, expires: u64, sig: &str) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(u64::MAX);
        if check_key(key).is_err() || expires < now {
            return false;
        }
        let want = self.signature(key, grant, expires);
        // Constant-time comparison of the two hex strings.
        want.len() == sig.len()
            && want
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    pub async fn put_part(
        &self,
        upload_id: &str,
        part_number: i32,
        body: Bytes,
    ) -> anyhow::Result<String> {
        let dir = self.upload_dir(upload_id)?;
        if !(1..=10_000).contains(&part_number) {
            bail!("part number out of range");
        }
        if !tokio::fs::try_exists(&dir).await? {
            bail!("no such upload");
        }
        let etag = quoted_sha256(&body);
        write_atomically(&dir.join(format!("part-{part_number:05}")), &body).await?;
        Ok(etag)
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await?;
    Ok(())
}

fn not_found(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::NotFound
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> anyhow::Result<()> {
        check_key(key)?;
        let meta = BlobMeta {
            size: body.len() as u64,
            content_type: content_type.to_owned(),
            etag: quoted_sha256(&body),
        };
        write_atomically(&self.object_path(key), &body).await?;
        write_atomically(&self.meta_path(key), &serde_json::to_vec(&meta)?).await
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        check_key(key)?;
        match tokio::fs::read(self.object_path(key)).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> anyhow::Result<Option<Bytes>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        check_key(key)?;
        let mut file = match tokio::fs::File::open(self.object_path(key)).await {
            Ok(f) => f,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        file.seek(std::io::SeekFrom::Start(start)).await?;
        let mut out = Vec::with_capacity(len.min(16 << 20) as usize);
        file.take(len).read_to_end(&mut out).await?;
        Ok(Some(out.into()))
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<BlobMeta>> {
        check_key(key)?;
        match tokio::fs::read(self.meta_path(key)).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        check_key(key)?;
        for path in [self.object_path(key), self.meta_path(key)] {
            match tokio::fs::remove_file(path).await {
                Err(e) if !not_found(&e) => return Err(e.into()),
                _ => {}
            }
        }
        Ok(())
    }

    async fn signed_get_url(
        &self,
        key: &str,
        _content_type: &str,
        validity: Validity,
    ) -> anyhow::Result<String> {
        self.signed_url(key, LocalGrant::Get, validity)
    }

    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        validity: Validity,
    ) -> anyhow::Result<String> {
        self.signed_url(
            key,
            LocalGrant::Put {
                content_type: content_type.to_owned(),
                size,
            },
            validity,
        )
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> anyhow::Result<String> {
        check_key(key)?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let info = UploadInfo {
            key: key.to_owned(),
            content_type: content_type.to_owned(),
        };
        write_atomically(
            &self.upload_dir(&upload_id)?.join("upload.json"),
            &serde_json::to_vec(&info)?,
        )
        .await?;
        Ok(upload_id)
    }

    async fn signed_part_url(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        size: u64,
        validity: Validity,
    ) -> anyhow::Result<String> {
        self.upload_dir(upload_id)?;
        self.signed_url(
            key,
            LocalGrant::Part {
                upload_id: upload_id.to_owned(),
                part_number,
                size,
            },
            validity,
        )
    }

    async fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        check_key(from)?;
        check_key(to)?;
        for (a, b) in [
            (self.object_path(from), self.object_path(to)),
            (self.meta_path(from), self.meta_path(to)),
        ] {
            if let Some(parent) = b.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            tokio::fs::rename(a, b).await?;
        }
        Ok(())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> anyhow::Result<()> {
        let dir = self.upload_dir(upload_id)?;
        let info: UploadInfo = serde_json::from_slice(
            &tokio::fs::read(dir.join("upload.json"))
                .await
                .context("no such upload")?,
        )?;
        if info.key != key {
            bail!("the upload belongs to another key");
        }
        if parts.is_empty()
            || parts
                .windows(2)
                .any(|w| w[0].part_number >= w[1].part_number)
        {
            bail!("parts must be listed in ascending order");
        }
        let mut body = Vec::new();
        for part in parts {
            let bytes = tokio::fs::read(dir.join(format!("part-{:05}", part.part_number)))
                .await
                .with_context(|| format!("part {} was not uploaded", part.part_number))?;
            if quoted_sha256(&bytes) != part.etag {
                bail!("part {} does not match its ETag", part.part_number);
            }
            body.extend_from_slice(&bytes);
        }
        self.put(key, body.into(), &info.content_type).await?;
        tokio::fs::remove_dir_all(dir).await?;
        Ok(())
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> anyhow::Result<()> {
        match tokio::fs::remove_dir_all(self.upload_dir(upload_id)?).await {
            Err(e) if !not_found(&e) => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn ping(&self) -> anyhow::Result<()> {
        tokio::fs::metadata(self.root.join("objects")).await?;
        Ok(())
    }

    async fn list(&self, folder: &str) -> anyhow::Result<Vec<String>> {
        check_key(folder)?;
        let mut keys = Vec::new();
        let mut entries = match tokio::fs::read_dir(self.object_path(folder)).await {
            Ok(entries) => entries,
            Err(e) if not_found(&e) => return Ok(keys),
            Err(e) => return Err(e.into()),
        };
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A file being written has a `.tmp-` name until it is renamed into place.
            if entry.file_type().await?.is_file() && !name.contains(".tmp-") {
                keys.push(format!("{folder}/{name}"));
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}

// ---------------------------------------------------------------------------------------------
// S3

pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    /// Built on the public endpoint, used only to presign URLs that clients will follow.
    presigner: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

fn s3_client(settings: &S3Settings, endpoint: Option<&String>) -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation,
        ResponseChecksumValidation,
    };
    let credentials = Credentials::new(
        settings.access_key_id.clone(),
        settings.secret_access_key.expose().to_owned(),
        None,
        None,
        "hocthi-settings",
    );
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(true)
        // The default checksums silently corrupted streamed uploads on an S3-compatible server.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    if let Some(endpoint) = endpoint {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

impl S3BlobStore {
    pub async fn connect(settings: &S3Settings) -> anyhow::Result<Self> {
        let store = Self {
            client: s3_client(settings, settings.endpoint.as_ref()),
            presigner: s3_client(settings, settings.public_endpoint.as_ref()),
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
        };
        store.ping().await.with_context(|| {
            format!(
                "cannot reach S3 bucket `{}` at {}",
                settings.bucket,
                settings.endpoint.as_deref().unwrap_or("AWS")
            )
        })?;
        Ok(store)
    }

    fn key(&self, key: &str) -> anyhow::Result<String> {
        check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    fn presigning(validity: Validity) -> anyhow::Result<aws_sdk_s3::presigning::PresigningConfig> {
        Ok(aws_sdk_s3::presigning::PresigningConfig::builder()
            .start_time(validity.from)
            .expires_in(validity.lasts)
            .build()?)
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, body: Bytes, content_type: &str) -> anyhow::Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .context("S3 put_object")?;
        Ok(())
    }

    async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.body
                    .collect()
                    .await
                    .context("S3 get_object body")?
                    .into_bytes(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("S3 get_object")),
        }
    }

    async fn get_range(&self, key: &str, start: u64, len: u64) -> anyhow::Result<Option<Bytes>> {
        if len == 0 {
            return Ok(Some(Bytes::new()));
        }
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .range(format!("bytes={start}-{}", start + len - 1))
            .send()
            .await
        {
            Ok(out) => Ok(Some(
                out.body
                    .collect()
                    .await
                    .context("S3 get_object body")?
                    .into_bytes(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                Ok(Some(Bytes::new()))
            }
            Err(e) => Err(anyhow::Error::new(e).context("S3 get_object range")),
        }
    }

    async fn head(&self, key: &str) -> anyhow::Result<Option<BlobMeta>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
        {
            Ok(out) => Ok(Some(BlobMeta {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                content_type: out
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                etag: out.e_tag().unwrap_or_default().to_owned(),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("S3 head_object")),
        }
    }

    async fn delete(&self, key: &str) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
            .context("S3 delete_object")?;
        Ok(())
    }

    async fn signed_get_url(
        &self,
        key: &str,
        content_type: &str,
        validity: Validity,
    ) -> anyhow::Result<String> {
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .response_content_type(content_type)
            .presigned(Self::presigning(validity)?)
            .await?;
        Ok(request.uri().to_owned())
    }

    async fn signed_put_url(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        validity: Validity,
    ) -> anyhow::Result<String> {
        let request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .content_length(i64::try_from(size)?)
            .presigned(Self::presigning(validity)?)
            .await?;
        Ok(request.uri().to_owned())
    }

    async fn create_multipart(&self, key: &str, content_type: &str) -> anyhow::Result<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .send()
            .await
            .context("S3 create_multipart_upload")?;
        out.upload_id()
            .map(str::to_owned)
            .context("S3 gave no upload id")
    }

    async fn signed_part_url(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        size: u64,
        validity: Validity,
    ) -> anyhow::Result<String> {
        let request = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .part_number(part_number)
            .content_length(i64::try_from(size)?)
            .presigned(Self::presigning(validity)?)
            .await?;
        Ok(request.uri().to_owned())
    }

    async fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        let source = format!("{}/{}", self.bucket, self.key(from)?);
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(self.key(to)?)
            .copy_source(source)
            .send()
            .await
            .context("S3 copy_object")?;
        self.delete(from).await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> anyhow::Result<()> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(p.part_number)
                            .e_tag(&p.etag)
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .multipart_upload(upload)
            .send()
            .await
            .context("S3 complete_multipart_upload")?;
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> anyhow::Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .upload_id(upload_id)
            .send()
            .await
            .context("S3 abort_multipart_upload")?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(())
    }

    async fn list(&self, folder: &str) -> anyhow::Result<Vec<String>> {
        let prefix = format!("{}/", self.key(folder)?);
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .delimiter("/")
                .set_continuation_token(token)
                .send()
                .await
                .context("S3 list_objects_v2")?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    keys.push(key.to_owned());
                }
            }
            token = page.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn kind(&self) -> &'static str {
        "s3"
    }
}
