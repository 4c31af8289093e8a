//! Conformance on JSONTestSuite's test_parsing corpus (../shared/jsontestsuite): every `y_`
//! accepted, every `n_` rejected with a category, nothing crashes or hangs.

mod common;

use std::path::PathBuf;

use _core::parse::parse_value;
use _core::Category;
use common::*;

const MULTILINE: &[&str] = &[
    "n_array_newlines_unclosed.json",
    "n_array_unclosed_with_new_lines.json",
    "n_number_invalid-utf-8-in-int.json",
    "n_object_bracket_key.json",
    "n_single_space.json",
    "n_string_unescaped_newline.json",
    "n_structure_no_data.json",
    "n_structure_open_array_object.json",
    "y_array_with_1_and_newline.json",
    "y_number_double_close_to_zero.json",
    "y_object_with_newlines.json",
    "y_structure_trailing_newline.json",
];

const DUPLICATES: &[&str] = &[
    "y_object_duplicated_key.json",
    "y_object_duplicated_key_and_value.json",
];

fn corpus() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/jsontestsuite/test_parsing");
    assert!(
        dir.is_dir(),
        "JSONTestSuite corpus missing at {} (it ships in shared/ beside the repository)",
        dir.display()
    );
    dir
}

#[test]
fn every_file_gets_the_right_verdict() {
    let mut files: Vec<_> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 300,
        "corpus looks incomplete: {} files",
        files.len()
    );
    let (mut y, mut n, mut i) = (0, 0, 0);
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        if MULTILINE.contains(&name.as_str()) {
            // A whole document with raw newlines: check the parser on it directly.
            let verdict = std::str::from_utf8(&bytes).ok().map(|t| {
                parse_value(t.trim_start_matches('\u{feff}'), &bumpalo::Bump::new()).is_ok()
            });
            match &name[..2] {
                "y_" => assert_eq!(verdict, Some(true), "{name}"),
                "n_" => assert_ne!(verdict, Some(true), "{name}"),
                _ => {}
            }
            continue;
        }
        let (batches, r) = read(&bytes, None, opts(2, 1 << 20));
        let kept = values(&batches).len() as u64;
        assert_eq!(r.lines_read, 1, "{name}: {:?}", r.examples);
        let category = r.examples.first().map(|e| e.category);
        match &name[..2] {
            "y_" if DUPLICATES.contains(&name.as_str()) => {
                assert_eq!(
                    category,
                    Some(Category::DuplicateKey),
                    "{name}: valid JSON rejected by policy"
                );
                y += 1;
            }
            "y_" => {
                assert_eq!(kept, 1, "{name} must be accepted: {:?}", r.examples);
                // Round trip: the compact text parses back to the same value.
                let v = values(&batches);
                assert!(parse_value(&v[0], &bumpalo::Bump::new()).is_ok(), "{name}");
                y += 1;
            }
            "n_" => {
                let blank_bom = name == "n_structure_UTF8_BOM_no_data.json";
                assert_eq!(kept, 0, "{name} must be rejected");
                let c = category.unwrap_or_else(|| panic!("{name}: rejected without a category"));
                if blank_bom {
                    assert_eq!(c, Category::BlankLine, "{name}");
                } else {
                    assert!(c.is_reader() && c != Category::BlankLine, "{name}: {c}");
                }
                n += 1;
            }
            _ => i += 1,
        }
    }
    assert!(y >= 90 && n >= 180 && i >= 30, "y={y} n={n} i={i}");
}
