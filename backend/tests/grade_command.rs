//! `hocthi grade` run as a teacher would, on the sample files.
use std::process::Command;

fn grade(key: &str, responses: &str) -> std::process::Output {
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/../content-samples/grading/");
    Command::new(env!("CARGO_BIN_EXE_hocthi"))
        .args([
            "grade",
            "--key",
            &format!("{samples}{key}"),
            "--responses",
            &format!("{samples}{responses}"),
        ])
        .output()
        .expect("the binary runs")
}

#[test]
fn grades_the_sample_files() {
    let out = grade("key-dia-li-0926.json", "responses-dia-li-0926.json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scores: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = serde_json::json!([
        { "candidate": "01000101", "part1": "4.50", "part2": "4.00", "part3": "1.50", "total": "10.00" },
        // Part I: wrong at 3, 6, 14, 17 and blank at 10 -> 13 right = 3.25.
        // Part II: 3 right (0.5) + 4 (1.0) + 3, one blank (0.5) + 2 (0.25) = 2.25.
        // Part III: 11.5 -> 11,5 right, 13,10 wrong, 27,5 right, blank, 1121 right, 2,8 wrong = 0.75.
        { "candidate": "01000102", "part1": "3.25", "part2": "2.25", "part3": "0.75", "total": "6.25" },
        { "candidate": "01000103", "part1": "0.00", "part2": "0.00", "part3": "0.00", "total": "0.00" },
    ]);
    assert_eq!(scores, expected);
}

#[test]
fn a_broken_key_is_refused_with_a_message() {
    let out = grade("responses-dia-li-0926.json", "responses-dia-li-0926.json");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the key file"));
}

#[test]
fn an_unreadable_file_exits_2_too() {
    let out = grade("key-dia-li-0926.json", "no-such-file.json");
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cannot read") && said.contains("no-such-file.json"),
        "{said}"
    );
}
