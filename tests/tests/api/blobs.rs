//! The blob store seam: the same behaviour from the local folder and from S3.
use std::time::{Duration, SystemTime};

use hocthi::stores::blob::{UploadedPart, Validity};
use hocthi_tests::{TestApp, on_every_store};

on_every_store!(
    signed_urls_upload_and_download,
    signed_urls_expire_and_cannot_be_altered,
    multipart_uploads_assemble_in_order
);

async fn signed_urls_upload_and_download(app: TestApp) {
    let blobs = &app.state.blobs;
    let key = "lessons/dao-dong/bai-1.txt";
    let body = "Dao động điều hòa — bài 1".as_bytes().to_vec();
    let put_url = blobs
        .signed_put_url(
            key,
            "text/plain; charset=utf-8",
            body.len() as u64,
            Validity::for_next(Duration::from_secs(300)),
        )
        .await
        .unwrap();
    let put = app
        .client
        .put(&put_url)
        .header("content-type", "text/plain; charset=utf-8")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(
        put.status().is_success(),
        "signed PUT: {} {}",
        put.status(),
        put.text().await.unwrap_or_default()
    );

    let meta = blobs.head(key).await.unwrap().expect("the object exists");
    assert_eq!(meta.size, body.len() as u64);
    assert_eq!(meta.content_type, "text/plain; charset=utf-8");

    // The URL is for exactly the declared size: more bytes are refused and nothing is written
    // (S3 checks the signed Content-Length, the local folder counts as it reads).
    let small = blobs
        .signed_put_url(
            "lessons/nho.txt",
            "text/plain",
            16,
            Validity::for_next(Duration::from_secs(300)),
        )
        .await
        .unwrap();
    let bigger = app
        .client
        .put(&small)
        .header("content-type", "text/plain")
        .body(vec![b'x'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert!(
        bigger.status().is_client_error(),
        "64 KiB through a 16-byte URL: {}",
        bigger.status()
    );
    assert!(blobs.head("lessons/nho.txt").await.unwrap().is_none());

    // A rename moves the object and its metadata.
    blobs.rename(key, "lessons/da-duyet.txt").await.unwrap();
    assert!(blobs.head(key).await.unwrap().is_none());
    let moved = blobs.get("lessons/da-duyet.txt").await.unwrap().unwrap();
    assert_eq!(moved.to_vec(), body);
    blobs.rename("lessons/da-duyet.txt", key).await.unwrap();

    let get_url = blobs
        .signed_get_url(
            key,
            "text/plain; charset=utf-8",
            Validity::for_next(Duration::from_secs(300)),
        )
        .await
        .unwrap();
    let got = app.client.get(&get_url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.headers()["content-type"],
        "text/plain; charset=utf-8",
        "the type the URL was signed for"
    );
    if app.state.local_blobs.is_some() {
        // Served from the pages' origin: text downloads, and never runs as a page of it.
        assert_eq!(got.headers()["content-disposition"], "attachment");
        assert_eq!(
            got.headers()["content-security-policy"],
            "sandbox; default-src 'none'"
        );
    }
    assert_eq!(got.bytes().await.unwrap().to_vec(), body);

    // A range, as a video player seeking asks for it.
    let part = app
        .client
        .get(&get_url)
        .header("range", "bytes=3-9")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 3-9/{}", body.len())
    );
    assert_eq!(part.bytes().await.unwrap().to_vec(), body[3..=9].to_vec());

    assert_eq!(blobs.get(key).await.unwrap().unwrap().to_vec(), body);
    blobs.delete(key).await.unwrap();
    assert!(blobs.get(key).await.unwrap().is_none());
    assert!(blobs.head(key).await.unwrap().is_none());
}

async fn signed_urls_expire_and_cannot_be_altered(app: TestApp) {
    let blobs = &app.state.blobs;
    let key = "documents/de-cuong.txt";
    blobs
        .put(key, "Đề cương ôn tập".into(), "text/plain")
        .await
        .unwrap();

    // Issued two hours ago for one hour: already expired, no waiting needed.
    let expired = Validity {
        from: SystemTime::now() - Duration::from_secs(7200),
        lasts: Duration::from_secs(3600),
    };
    let url = blobs
        .signed_get_url(key, "text/plain", expired)
        .await
        .unwrap();
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        403,
        "an expired GET URL"
    );

    let valid = Validity::for_next(Duration::from_secs(300));
    let url = blobs
        .signed_get_url(key, "text/plain", valid)
        .await
        .unwrap();
    let other_key = url.replace("de-cuong", "de-thi");
    assert_eq!(
        app.client.get(&other_key).send().await.unwrap().status(),
        403,
        "a URL moved to another key"
    );

    let put_url = blobs
        .signed_put_url("uploads/anh.png", "image/png", 8, valid)
        .await
        .unwrap();
    let wrong_type = app
        .client
        .put(&put_url)
        .header("content-type", "text/html")
        .body("<script>")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong_type.status(),
        403,
        "a PUT with another content type than signed"
    );
    assert!(
        blobs.head("uploads/anh.png").await.unwrap().is_none(),
        "nothing was written"
    );

    let expired_put = blobs
        .signed_put_url("uploads/anh.png", "image/png", 3, expired)
        .await
        .unwrap();
    let late = app
        .client
        .put(&expired_put)
        .header("content-type", "image/png")
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 403, "an expired PUT URL");
}

async fn multipart_uploads_assemble_in_order(app: TestApp) {
    let blobs = &app.state.blobs;
    let key = "videos/thi-nghiem.bin";
    let first: Vec<u8> = (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = b"phan cuoi".to_vec();
    let upload = blobs
        .create_multipart(key, "application/octet-stream")
        .await
        .unwrap();
    let valid = Validity::for_next(Duration::from_secs(300));
    let mut parts = Vec::new();
    // Upload out of order: the part numbers, not the arrival order, decide the result.
    for (number, bytes) in [(2, &second), (1, &first)] {
        let url = blobs
            .signed_part_url(key, &upload, number, bytes.len() as u64, valid)
            .await
            .unwrap();
        let reply = app
            .client
            .put(&url)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "part {number}: {}",
            reply.status()
        );
        let etag = reply.headers()["etag"].to_str().unwrap().to_owned();
        parts.push(UploadedPart {
            part_number: number,
            etag,
        });
    }
    parts.sort_by_key(|p| p.part_number);
    blobs
        .complete_multipart(key, &upload, &parts)
        .await
        .unwrap();
    let whole = blobs.get(key).await.unwrap().unwrap();
    assert_eq!(whole.len(), first.len() + second.len());
    assert_eq!(&whole[..first.len()], &first[..]);
    assert_eq!(&whole[first.len()..], &second[..]);

    // An abandoned upload can be aborted and leaves nothing behind.
    let abandoned = blobs
        .create_multipart("videos/bo-do.bin", "application/octet-stream")
        .await
        .unwrap();
    blobs
        .abort_multipart("videos/bo-do.bin", &abandoned)
        .await
        .unwrap();
    assert!(
        blobs
            .complete_multipart("videos/bo-do.bin", &abandoned, &parts)
            .await
            .is_err()
    );
    assert!(blobs.head("videos/bo-do.bin").await.unwrap().is_none());
}
