//! Property-based fuzzing of every importer on stable Rust (docs/SECURITY.md, finding 3): the
//! sample files teachers' formats come in are mutated by a seeded generator (bytes flipped,
//! slices cut, repeated or spliced, markup inserted, and the parts inside a zip mutated and
//! zipped again), and each importer must answer every input with a result or a refusal code,
//! never a panic, within the import budget; the process's peak memory stays bounded.
//!
//! `HOCTHI_FUZZ_SECONDS` (default 2) is the time each target runs and `HOCTHI_FUZZ_SEED`
//! (default fixed) the generator's seed; CI runs longer. A panicking input is written to
//! `target/fuzz-failures/` to be replayed.
use std::{
    io::{Cursor, Read, Write},
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use hocthi::{
    identity::cccd,
    imports::Budget,
    org::import::{self as roster, FileKind},
    questions::import::parse_file,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../content-samples")
}

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(samples().join(path)).unwrap()
}

const MOODLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<quiz><question type="multichoice"><name><text>Câu 1</text></name>
<questiontext format="html"><text><![CDATA[<p>Nguyên tố nào có số hiệu 8?</p>]]></text></questiontext>
<answer fraction="100"><text>Oxi</text></answer><answer fraction="0"><text>Nitơ</text></answer>
<answer fraction="0"><text>Cacbon</text></answer><answer fraction="0"><text>Heli</text></answer>
</question><question type="truefalse"><name><text>Câu 2</text></name>
<questiontext><text>Nước sôi ở 100 độ C.</text></questiontext>
<answer fraction="100"><text>true</text></answer><answer fraction="0"><text>false</text></answer>
</question></quiz>"#;

const QR: &str =
    "001204001234|123456789|Nguyễn Văn An|01012004|Nam|Số 1 Tràng Tiền, Hà Nội|01012021";

/// Pieces of markup the formats care about, inserted to reach deeper paths than random bytes.
const TOKENS: &[&str] = &[
    "<w:p>",
    "</w:p>",
    "<w:r><w:t>",
    "</w:t></w:r>",
    "<m:oMath>",
    "</m:oMath>",
    "<m:f><m:num>",
    "<w:drawing><a:blip r:embed=\"rId9\"/></w:drawing>",
    "<![CDATA[",
    "]]>",
    "&amp;",
    "&#0;",
    "<!DOCTYPE x>",
    "Câu 1.",
    "A.",
    "*B.",
    "PHẦN II",
    "a)",
    "Đáp án:",
    "::",
    "{",
    "}",
    "=",
    "~",
    "%50%",
    "|",
    "\u{0}",
    "\u{FEFF}",
    "\r\n",
    "$",
    "$$",
    "\\frac{",
    "<question type=\"x\">",
    "<qti-value>",
    "fraction=\"-100\"",
    "01012004",
    "Nữ",
    ";",
    ",",
    "\"",
];

fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if out.is_empty() {
            0
        } else {
            rng.random_range(0..=out.len())
        };
        match rng.random_range(0..7) {
            0 if !out.is_empty() => {
                let i = rng.random_range(0..out.len());
                out[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let end = (at + rng.random_range(0..64)).min(out.len());
                out.drain(at..end);
            }
            2 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())].as_bytes();
                out.splice(at..at, token.iter().copied());
            }
            3 if !out.is_empty() => {
                // Repeat a slice many times: the shape of the bombs the budget is for.
                let start = rng.random_range(0..out.len());
                let end = (start + rng.random_range(1..128)).min(out.len());
                let slice = out[start..end].to_vec();
                let times = rng.random_range(2..2_000);
                let repeated: Vec<u8> = slice
                    .iter()
                    .copied()
                    .cycle()
                    .take(slice.len() * times)
                    .collect();
                out.splice(start..start, repeated);
            }
            4 => out.truncate(at),
            5 if !other.is_empty() => {
                let start = rng.random_range(0..other.len());
                let end = (start + rng.random_range(1..256)).min(other.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            _ => out.insert(at, rng.random()),
        }
    }
    out
}

fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            let name = entry.name().map(|n| n.into_owned()).unwrap_or_default();
            (name, body)
        })
        .collect()
}

fn zip(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, body) in parts {
        writer
            .start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(body).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Mutates one or two parts inside a zip (sometimes its bytes as a whole), then zips it again.
fn mutate_zip(rng: &mut StdRng, parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    if rng.random_ratio(1, 10) {
        return mutate(rng, &zip(parts), &[]);
    }
    let mut parts = parts.to_vec();
    for _ in 0..rng.random_range(1..=2) {
        let i = rng.random_range(0..parts.len());
        let j = rng.random_range(0..parts.len());
        let other = parts[j].1.clone();
        parts[i].1 = mutate(rng, &parts[i].1, &other);
    }
    if rng.random_ratio(1, 20) {
        // A copy of one part under a name a manifest or relationship may point at.
        let i = rng.random_range(0..parts.len());
        let (name, body) = parts[i].clone();
        parts.push((format!("{name}.{}", parts.len()), body));
    }
    zip(&parts)
}

fn seconds() -> Duration {
    let s = std::env::var("HOCTHI_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    Duration::from_secs_f64(s.unwrap_or(2.0))
}

fn seed() -> u64 {
    std::env::var("HOCTHI_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x4843_5448_4920_4655) // "HCTHI FU"
}

thread_local! {
    /// The source file of this thread's last panic, to tell a library's from our own.
    static PANICKED_IN: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Runs `target` on generated inputs until the time is up; a panic fails with the input saved.
fn fuzz(name: &str, mut generate: impl FnMut(&mut StdRng) -> Vec<u8>, target: impl Fn(&[u8])) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let file = info
            .location()
            .map(|l| l.file().to_owned())
            .unwrap_or_default();
        if !file.contains("/calamine-") {
            default(info);
        }
        PANICKED_IN.with(|f| *f.borrow_mut() = file);
    }));
    let mut rng = StdRng::seed_from_u64(seed() ^ name.len() as u64);
    let until = Instant::now() + seconds();
    let mut cases = 0u64;
    while Instant::now() < until {
        let input = generate(&mut rng);
        if catch_unwind(AssertUnwindSafe(|| target(&input))).is_err() {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/fuzz-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("{name}-{cases}.bin"));
            std::fs::write(&file, &input).unwrap();
            panic!(
                "{name}: case {cases} panicked; input saved to {}",
                file.display()
            );
        }
        cases += 1;
    }
    assert!(cases > 0, "{name}: no case ran");
    eprintln!("{name}: {cases} cases");
    assert_peak_memory_is_bounded(name);
}

/// The process's peak resident memory (Linux), against a bound no import should come near:
/// every case runs within a 100 MiB inflate budget and a node budget.
fn assert_peak_memory_is_bounded(name: &str) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return;
    };
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    assert!(
        peak_kib < 1_500 * 1024,
        "{name}: peak memory {peak_kib} KiB"
    );
}

/// A question bank file: parsed or refused, and every parsed item validated, within budget.
fn question_bank(bytes: &[u8]) {
    let mut budget = Budget::for_import();
    if let Ok(file) = parse_file(bytes, &mut budget) {
        for item in file.parsed.into_iter().filter_map(|p| p.result.ok()) {
            let _ = item.body.validate();
        }
    }
}

#[test]
fn word_banks() {
    let seeds: Vec<Vec<(String, Vec<u8>)>> = ["questions/toan-12.docx", "questions/vat-li-12.docx"]
        .iter()
        .map(|p| unzip(&sample(p)))
        .collect();
    fuzz(
        "docx",
        |rng| {
            let i = rng.random_range(0..seeds.len());
            mutate_zip(rng, &seeds[i])
        },
        question_bank,
    );
}

#[test]
fn qti_packages() {
    let seed = unzip(&sample("questions/tin-hoc-11-qti.zip"));
    fuzz("qti", |rng| mutate_zip(rng, &seed), question_bank);
}

#[test]
fn text_gift_and_moodle_banks() {
    let seeds = [
        sample("questions/hoa-hoc-10.gift"),
        sample("questions/toan-12.txt"),
        MOODLE.as_bytes().to_vec(),
    ];
    fuzz(
        "text",
        |rng| {
            let i = rng.random_range(0..seeds.len());
            let other = &seeds[rng.random_range(0..seeds.len())];
            mutate(rng, &seeds[i], other)
        },
        question_bank,
    );
}

#[test]
fn rosters() {
    let csv = sample("organisation/users.csv");
    let text = String::from_utf8(csv.clone()).unwrap();
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in text.lines().enumerate() {
        for (c, cell) in line.split(',').enumerate() {
            sheet.write_string(r as u32, c as u16, cell).unwrap();
        }
    }
    let xlsx = unzip(&book.save_to_buffer().unwrap());
    fuzz(
        "roster",
        |rng| {
            if rng.random_bool(0.5) {
                let mut file = mutate(rng, &csv, &[]);
                file.insert(0, b'C'); // marks the kind for the target
                file
            } else {
                let mut file = mutate_zip(rng, &xlsx);
                file.insert(0, b'X');
                file
            }
        },
        |input| {
            let (kind, bytes) = input.split_first().unwrap();
            if *kind == b'C' {
                let _ = roster::read(FileKind::Csv, bytes, &mut Budget::for_import());
                return;
            }
            // calamine 0.38 overflows on a long cell reference (`get_row_and_optional_column`,
            // a panic in debug builds): the service contains a parser's panic as the file's
            // refusal (`imports::ImportQueue`), so here too, for that library alone.
            let read = || roster::read(FileKind::Xlsx, bytes, &mut Budget::for_import());
            if catch_unwind(AssertUnwindSafe(read)).is_err() {
                let file = PANICKED_IN.with(|f| f.borrow().clone());
                assert!(
                    file.contains("/calamine-"),
                    "only the spreadsheet library's panics are contained, not {file}"
                );
            }
        },
    );
}

#[test]
fn id_card_qr_lines() {
    fuzz(
        "cccd_qr",
        |rng| mutate(rng, QR.as_bytes(), &[]),
        |input| {
            let _ = cccd::parse_qr(&String::from_utf8_lossy(input));
        },
    );
}
