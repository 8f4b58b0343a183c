//! What a file really is, from its bytes: the declared type and the name count for nothing.
//! Archives (Office files, SCORM and H5P packages) are recognised by their entries, and a
//! package's manifest gives its title and launch file; an entry that would climb out of the
//! package's folder refuses the whole package.
use std::io::{Cursor, Read};

use serde::{Deserialize, Serialize};

/// The types the repository stores.
pub const ACCEPTED: &[&str] = &[
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "audio/mpeg",
    "audio/ogg",
    "audio/wav",
    "audio/mp4",
    "video/mp4",
    "video/webm",
    "application/zip",
    "application/vnd.scorm+zip",
    "application/vnd.h5p+zip",
];

/// The type the first bytes show, before looking inside archives (`application/zip`).
pub fn magic(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, sig: &[u8]| head.get(offset..offset + sig.len()) == Some(sig);
    Some(if at(0, b"%PDF-") {
        "application/pdf"
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if at(0, b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        "image/gif"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if at(0, b"OggS") {
        "audio/ogg"
    } else if at(0, b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        "audio/mpeg"
    } else if at(4, b"ftyp") {
        if at(8, b"M4A ") || at(8, b"M4B ") {
            "audio/mp4"
        } else {
            "video/mp4"
        }
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        "video/webm"
    } else if at(0, b"PK\x03\x04") {
        "application/zip"
    } else {
        return None;
    })
}

/// What an archive holds, as far as the repository cares.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Package {
    /// e.g. "scorm_1.2", "scorm_2004", "h5p".
    pub standard: Option<String>,
    pub title: Option<String>,
    /// The file a player opens first, inside the package.
    pub launch: Option<String>,
}

/// Why an archive was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ArchiveError {
    Unreadable,
    UnsafePath(String),
}

fn safe(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.starts_with('\\')
        && !name.contains('\\')
        && !name.contains(':')
        && name.split('/').all(|seg| seg != "..")
}

fn first_text(xml: &str, tag: &str) -> Option<String> {
    let open = xml.find(&format!("<{tag}"))?;
    let start = open + xml[open..].find('>')? + 1;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let text = xml[start..end].trim();
    (!text.is_empty() && !text.starts_with('<')).then(|| text.to_owned())
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = at + tag[at..].find('"')?;
    Some(tag[at..end].to_owned())
}

/// Refines a zip into an Office type or a learning package, checking every entry's path.
/// Returns the precise type and, for packages, what their manifest says.
pub fn inspect_zip(bytes: &[u8]) -> Result<(&'static str, Package), ArchiveError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| ArchiveError::Unreadable)?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|_| ArchiveError::Unreadable)?;
    if let Some(bad) = names.iter().find(|n| !safe(n)) {
        return Err(ArchiveError::UnsafePath(bad.clone()));
    }
    let has = |name: &str| names.iter().any(|n| n == name);
    let starts = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
    if has("[Content_Types].xml") && starts("word/") {
        return Ok((
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Package::default(),
        ));
    }
    if has("[Content_Types].xml") && starts("ppt/") {
        return Ok((
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            Package::default(),
        ));
    }
    if has("[Content_Types].xml") && starts("xl/") {
        return Ok((
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Package::default(),
        ));
    }
    let mut read = |name: &str| -> Result<String, ArchiveError> {
        let mut entry = zip.by_name(name).map_err(|_| ArchiveError::Unreadable)?;
        let mut text = String::new();
        // Manifests are small; a huge one is not a manifest.
        entry
            .by_ref()
            .take(2 << 20)
            .read_to_string(&mut text)
            .map_err(|_| ArchiveError::Unreadable)?;
        Ok(text)
    };
    if has("imsmanifest.xml") {
        let xml = read("imsmanifest.xml")?;
        let standard = if xml.contains("2004") || xml.contains("adlcp_v1p3") {
            "scorm_2004"
        } else {
            "scorm_1.2"
        };
        let launch = xml
            .match_indices("<resource ")
            .filter_map(|(i, _)| {
                let tag = &xml[i..i + xml[i..].find('>')?];
                let sco = tag.to_ascii_lowercase().contains("scormtype=\"sco\"");
                attribute(tag, "href").map(|h| (sco, h))
            })
            .max_by_key(|(sco, _)| *sco)
            .map(|(_, href)| href);
        if let Some(l) = &launch
            && (!safe(l)
                || !names
                    .iter()
                    .any(|n| n == l.split(['?', '#']).next().unwrap_or("")))
        {
            return Err(ArchiveError::UnsafePath(l.clone()));
        }
        return Ok((
            "application/vnd.scorm+zip",
            Package {
                standard: Some(standard.to_owned()),
                title: first_text(&xml, "title"),
                launch,
            },
        ));
    }
    if has("h5p.json") {
        let text = read("h5p.json")?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| ArchiveError::Unreadable)?;
        return Ok((
            "application/vnd.h5p+zip",
            Package {
                standard: Some("h5p".to_owned()),
                title: json["title"].as_str().map(str::to_owned),
                launch: Some("content/content.json".to_owned()).filter(|c| has(c)),
            },
        ));
    }
    Ok(("application/zip", Package::default()))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body) in entries {
            out.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            out.write_all(body.as_bytes()).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn first_bytes_tell_the_type() {
        assert_eq!(magic(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(magic(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(magic(b"\x00\x00\x00\x20ftypisom"), Some("video/mp4"));
        assert_eq!(magic(b"\x00\x00\x00\x20ftypM4A "), Some("audio/mp4"));
        assert_eq!(magic(b"ID3\x04"), Some("audio/mpeg"));
        assert_eq!(magic(b"RIFF\0\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(magic(b"plain text"), None);
    }

    #[test]
    fn a_scorm_package_gives_its_title_and_launch_file() {
        let manifest = r#"<manifest><organizations><organization><title>Bài 1: Phân số</title></organization></organizations>
            <resources><resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="index.html"/></resources></manifest>"#;
        let (kind, package) = inspect_zip(&zip_of(&[
            ("imsmanifest.xml", manifest),
            ("index.html", "<html/>"),
        ]))
        .unwrap();
        assert_eq!(kind, "application/vnd.scorm+zip");
        assert_eq!(package.title.as_deref(), Some("Bài 1: Phân số"));
        assert_eq!(package.launch.as_deref(), Some("index.html"));
        assert_eq!(package.standard.as_deref(), Some("scorm_1.2"));
    }

    #[test]
    fn a_path_out_of_the_package_refuses_it() {
        for bad in ["../../etc/passwd", "/abs/file", "a\\..\\b", "C:/x"] {
            let result = inspect_zip(&zip_of(&[("imsmanifest.xml", "<manifest/>"), (bad, "x")]));
            assert_eq!(
                result,
                Err(ArchiveError::UnsafePath(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn office_files_and_h5p_are_told_apart() {
        let docx = zip_of(&[
            ("[Content_Types].xml", "<Types/>"),
            ("word/document.xml", "<w:document/>"),
        ]);
        assert!(
            inspect_zip(&docx)
                .unwrap()
                .0
                .ends_with("wordprocessingml.document")
        );
        let h5p = zip_of(&[
            (
                "h5p.json",
                r#"{"title":"Trò chơi ghép từ","mainLibrary":"H5P.DragText"}"#,
            ),
            ("content/content.json", "{}"),
        ]);
        let (kind, package) = inspect_zip(&h5p).unwrap();
        assert_eq!(kind, "application/vnd.h5p+zip");
        assert_eq!(package.title.as_deref(), Some("Trò chơi ghép từ"));
    }
}
