//! Framing and reader edge cases: every line ends as a row, a categorized skip, or a fatal error.

mod common;

use std::io::Write;

use _core::{Category, Policy, ReadOptions, Reader};
use common::*;

#[test]
fn bom_crlf_blank_and_unterminated_last_line() {
    let data = b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n   \t\n{\"b\":\"x\"}\n{\"c\":null}";
    let (b, r) = read(data, None, opts(1, 1 << 20));
    assert_eq!(
        values(&b),
        vec![r#"{"a":1}"#, r#"{"b":"x"}"#, r#"{"c":null}"#]
    );
    assert_eq!(lines(&b), vec![1, 4, 5]);
    assert_eq!(r.lines_read, 5);
    assert_eq!(count(&r, Category::BlankLine), 2);
}

#[test]
fn truncated_last_line_is_its_own_category() {
    let (b, r) = read(b"{\"a\":1}\n{\"b\":\"cut sh", None, opts(2, 4));
    assert_eq!(values(&b).len(), 1);
    assert_eq!(count(&r, Category::TruncatedLine), 1);
    let ex = r
        .examples
        .iter()
        .find(|e| e.category == Category::TruncatedLine)
        .unwrap();
    assert_eq!(ex.line, 2);
    assert!(ex.message.contains("cut short"), "{}", ex.message);
    // The same bytes with a newline are plain invalid JSON.
    let (_, r) = read(b"{\"a\":1}\n{\"b\":\"cut sh\n", None, opts(2, 4));
    assert_eq!(count(&r, Category::InvalidJson), 1);
}

#[test]
fn nan_infinity_surrogates_duplicates_utf8() {
    let data = concat!(
        "{\"x\":NaN}\n",
        "{\"x\":Infinity}\n",
        "{\"x\":\"\\ud800\"}\n",
        "{\"x\":1,\"x\":2}\n",
        "{\"y\":{\"z\":1,\"z\":1}}\n",
        "{\"ok\":\"\\ud83d\\ude00 caf\u{e9}\"}\n",
    );
    let mut bytes = data.as_bytes().to_vec();
    bytes.extend_from_slice(b"{\"bad\":\"\xff\xfe\"}\n");
    let (b, r) = read(&bytes, None, opts(2, 16));
    // The valid line is kept as written (escapes included), minus whitespace between tokens.
    assert_eq!(values(&b), vec!["{\"ok\":\"\\ud83d\\ude00 caf\u{e9}\"}"]);
    assert_eq!(count(&r, Category::InvalidJson), 3);
    assert_eq!(count(&r, Category::DuplicateKey), 2);
    assert_eq!(count(&r, Category::InvalidUtf8), 1);
    let utf = r
        .examples
        .iter()
        .find(|e| e.category == Category::InvalidUtf8)
        .unwrap();
    assert_eq!(utf.line, 7);
}

#[test]
fn ten_thousand_deep_is_too_deep_in_both_modes() {
    let deep_arr = "[".repeat(10_000) + &"]".repeat(10_000);
    let deep_obj = "{\"a\":".repeat(10_000) + "1" + &"}".repeat(10_000);
    let data = format!("{deep_arr}\n{deep_obj}\n{{\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}},{{\"role\":\"assistant\",\"content\":\"yo\"}}],\"meta\":{deep_obj}}}\n");
    let (_, r) = read(data.as_bytes(), None, opts(1, 1 << 20));
    assert_eq!(count(&r, Category::TooDeep), 3);
    let (_, r) = read(data.as_bytes(), Some(&[OPENAI]), opts(1, 1 << 20));
    assert_eq!(count(&r, Category::TooDeep), 3, "{r:?}");
}

#[test]
fn line_too_long_in_memory_and_in_a_gzip_stream() {
    let long = format!("{{\"a\":\"{}\"}}", "x".repeat(5000));
    let data = format!("{{\"a\":1}}\n{long}\n{{\"b\":2}}\n");
    let o = ReadOptions {
        max_line_bytes: 1000,
        ..opts(2, 64)
    };
    let (b, r) = read(data.as_bytes(), None, o.clone());
    assert_eq!(values(&b).len(), 2);
    assert_eq!(lines(&b), vec![1, 3]);
    assert_eq!(count(&r, Category::LineTooLong), 1);

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(data.as_bytes()).unwrap();
    gz.finish().unwrap();
    let rd = Reader::new(vec![p.display().to_string()], None, None, o).unwrap();
    let (b, r) = rd.read_all().unwrap();
    assert_eq!(lines(&b), vec![1, 3]);
    assert_eq!(count(&r, Category::LineTooLong), 1);
    assert!(r.balanced());
}

fn sample_jsonl(rows: usize) -> String {
    let mut s = String::new();
    for i in 0..rows {
        match i % 7 {
            0 => s.push('\n'),
            1 => s.push_str("{\"broken\": \n"),
            _ => s.push_str(&format!(
                "{{\"messages\":[{{\"role\":\"system\",\"content\":\"be kind\"}},{{\"role\":\"user\",\"content\":\"q{i} caf\u{e9} \\n 日本\"}},{{\"role\":\"assistant\",\"content\":\"a{i} 🎉\",\"weight\":1}}],\"n\":{i}}}\r\n"
            )),
        }
    }
    s
}

#[test]
fn output_is_identical_for_any_thread_count_and_chunk_size() {
    let data = sample_jsonl(500);
    let (base, rbase) = read(data.as_bytes(), Some(&[OPENAI]), opts(1, 1 << 20));
    let base_msgs = messages(&base);
    assert_eq!(rbase.lines_read, 500);
    for threads in [1, 2, 4] {
        for chunk in [1, 7, 100, 4096] {
            let o = ReadOptions {
                window_chunks: 3,
                ..opts(threads, chunk)
            };
            let (b, r) = read(data.as_bytes(), Some(&[OPENAI]), o);
            assert_eq!(messages(&b), base_msgs, "threads={threads} chunk={chunk}");
            assert_eq!(lines(&b), lines(&base));
            assert_eq!(string_col(&b, "metadata"), string_col(&base, "metadata"));
            assert_eq!(r.skipped, rbase.skipped);
            let ex: Vec<u64> = r.examples.iter().map(|e| e.line).collect();
            let ex0: Vec<u64> = rbase.examples.iter().map(|e| e.line).collect();
            assert_eq!(ex, ex0);
        }
    }
}

#[test]
fn plain_gzip_and_zstd_read_the_same() {
    let data = sample_jsonl(300);
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("a.jsonl");
    std::fs::write(&plain, &data).unwrap();
    // Names lie on purpose: compression is recognized by magic bytes.
    let gz = dir.path().join("b.jsonl");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(data.as_bytes()).unwrap();
    enc.finish().unwrap();
    let zs = dir.path().join("c.data");
    std::fs::write(&zs, zstd::encode_all(data.as_bytes(), 3).unwrap()).unwrap();
    let mut results = vec![];
    for p in [&plain, &gz, &zs] {
        let rd = Reader::new(
            vec![p.display().to_string()],
            None,
            Some(formats(&[OPENAI])),
            opts(2, 512),
        )
        .unwrap();
        let (b, r) = rd.read_all().unwrap();
        assert!(r.balanced());
        results.push((messages(&b), lines(&b), r.skipped));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

#[test]
fn several_files_keep_input_order_and_their_own_line_numbers() {
    let r = Reader::from_memory(
        vec![
            ("one.jsonl".into(), b"{\"a\":1}\n{\"a\":2}\n".to_vec()),
            ("empty.jsonl".into(), vec![]),
            ("two.jsonl".into(), b"\n{\"b\":1}".to_vec()),
        ],
        None,
        opts(2, 1),
    )
    .unwrap();
    let (b, rep) = r.read_all().unwrap();
    assert_eq!(values(&b), vec![r#"{"a":1}"#, r#"{"a":2}"#, r#"{"b":1}"#]);
    assert_eq!(lines(&b), vec![1, 2, 2]);
    assert_eq!(rep.files, vec!["one.jsonl", "empty.jsonl", "two.jsonl"]);
    assert_eq!(rep.lines_read, 4);
}

#[test]
fn a_100_mb_single_line_reads() {
    let big = "y".repeat(100 << 20);
    let data = format!("{{\"a\":1}}\n{{\"text\":\"{big}\"}}\n");
    let (b, r) = read(data.as_bytes(), None, opts(2, 1 << 20));
    assert_eq!(r.rows_kept, 2);
    assert_eq!(values(&b)[1].len(), big.len() + 11);
}

#[test]
fn missing_and_corrupt_files_are_fatal_source_errors() {
    let rd = Reader::new(vec!["/nonexistent/x.jsonl".into()], None, None, opts(1, 64)).unwrap();
    match rd.read_all() {
        Err(_core::IngestError::Source { code, message, .. }) => {
            assert_eq!(code, "source_not_found");
            assert!(message.contains("no such file"));
        }
        other => panic!("{other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(sample_jsonl(2000).as_bytes()).unwrap();
    let full = enc.finish().unwrap();
    std::fs::write(&p, &full[..full.len() / 2]).unwrap();
    // Lines whole before the cut: the error must point just past them.
    let mut whole = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&full[..full.len() / 2]),
        &mut whole,
    );
    let complete = whole.iter().filter(|&&b| b == b'\n').count() as u64;
    let per_chunk = 16 << 10;
    let lines_per_chunk = per_chunk as u64 / (whole.len() as u64 / complete) + 1;
    for threads in [1, 2] {
        let rd = Reader::new(
            vec![p.display().to_string()],
            None,
            None,
            opts(threads, per_chunk),
        )
        .unwrap();
        match rd.read_all() {
            Err(_core::IngestError::Source {
                code,
                line,
                message,
                ..
            }) => {
                assert_eq!(code, "source_corrupt");
                // In the chunk where the stream broke, not where the cutting thread (running
                // ahead of the chunks accounted for) happened to be counted.
                let line = line.unwrap();
                assert!(
                    line <= complete + 1 && line + 2 * lines_per_chunk > complete,
                    "line {line}, {complete} whole lines"
                );
                assert!(
                    message.contains(&format!("cut short near line {line} (")),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn strict_fails_on_the_first_bad_line_but_not_on_blank_or_metadata_lines() {
    let data = b"{\"_meta\":{}}\n\n{\"current_user_input\":\"hi\",\"target_response\":\"yo\"}\n{oops\n{\"current_user_input\":\"hi\"}\n";
    match read_policy(data, &[BRIGHTRUN], Policy::Strict) {
        Err(_core::IngestError::Line { line, issue, .. }) => {
            assert_eq!(line, 4);
            assert_eq!(issue.category, Category::InvalidJson);
        }
        other => panic!("{other:?}"),
    }
    let (b, r) = read_policy(data, &[BRIGHTRUN], Policy::Skip).unwrap();
    assert_eq!(messages(&b).len(), 1);
    assert_eq!(count(&r, Category::MetadataLine), 1);
    assert_eq!(count(&r, Category::UnsupportedFormat), 1);
}

#[test]
fn quarantine_keeps_bad_lines_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.jsonl");
    let mut data = b"{\"current_user_input\":\"hi\",\"target_response\":\"yo\"}\n{oops\n".to_vec();
    data.extend_from_slice(b"\xff\xfe\n");
    let o = ReadOptions {
        policy: Policy::Quarantine,
        quarantine_path: Some(q.clone()),
        ..opts(2, 8)
    };
    let rd = Reader::from_memory(
        vec![("m.jsonl".into(), data)],
        Some(formats(&[BRIGHTRUN])),
        o,
    )
    .unwrap();
    let (_, r) = rd.read_all().unwrap();
    assert_eq!(r.rows_kept, 1);
    let text = std::fs::read_to_string(&q).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["line"], 2);
    assert_eq!(recs[0]["text"], "{oops");
    assert_eq!(recs[0]["category"], "invalid_json");
    assert_eq!(recs[1]["base64"], "//4=");
}

#[test]
fn a_fatal_error_ends_the_read() {
    let mut data = Vec::new();
    for i in 0..2000 {
        data.extend_from_slice(
            format!("{{\"current_user_input\":\"q{i}\",\"target_response\":\"a\"}}\n").as_bytes(),
        );
    }
    data.extend_from_slice(b"{broken\n");
    data.extend_from_slice(b"{\"current_user_input\":\"q\",\"target_response\":\"a\"}\n");
    let o = ReadOptions {
        policy: Policy::Strict,
        ..opts(2, 256)
    };
    let mut r = Reader::from_memory(
        vec![("m.jsonl".into(), data)],
        Some(formats(&[BRIGHTRUN])),
        o,
    )
    .unwrap();
    let mut rows = 0;
    let err = loop {
        match r.next_batch() {
            Ok(Some(b)) => rows += b.num_rows(),
            Ok(None) => panic!("the bad line was not reported"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, _core::IngestError::Line { line: 2001, .. }),
        "{err:?}"
    );
    assert!(rows <= 2000);
    assert!(
        r.next_batch().unwrap().is_none(),
        "a failed read must not go on"
    );
}

#[test]
fn dropping_a_reader_mid_read_stops_its_threads() {
    // Many small chunks with one in flight at a time, and with the default depth: take one
    // batch, drop the reader, and the cutting thread and its tasks wind down (no hang).
    let data = sample_jsonl(3000);
    for window_chunks in [1, 0] {
        let o = ReadOptions {
            window_chunks,
            ..opts(2, 512)
        };
        let mut r = Reader::from_memory(
            vec![("m.jsonl".into(), data.clone().into_bytes())],
            Some(formats(&[OPENAI])),
            o,
        )
        .unwrap();
        assert!(r.next_batch().unwrap().is_some());
        drop(r);
    }
    // One chunk in flight gives the same rows as the default depth.
    let one = ReadOptions {
        window_chunks: 1,
        ..opts(2, 512)
    };
    let (b1, r1) = read(data.as_bytes(), Some(&[OPENAI]), one);
    let (b0, r0) = read(data.as_bytes(), Some(&[OPENAI]), opts(2, 512));
    assert_eq!(messages(&b1), messages(&b0));
    assert_eq!(lines(&b1), lines(&b0));
    assert_eq!(r1.skipped, r0.skipped);
    assert!(r1.balanced());
}

fn first_example(r: &_core::Report, c: Category) -> _core::report::Example {
    r.examples
        .iter()
        .find(|e| e.category == c)
        .cloned()
        .unwrap_or_else(|| panic!("no {c:?} example in {r:?}"))
}

#[test]
fn a_bom_inside_the_file_and_cr_line_endings_are_named() {
    // Two exports concatenated, each with its BOM.
    let data = b"\xEF\xBB\xBF{\"a\":1}\n\xEF\xBB\xBF{\"a\":2}\n";
    let (b, r) = read(data, None, opts(1, 1 << 20));
    assert_eq!(values(&b), vec![r#"{"a":1}"#]);
    let e = first_example(&r, Category::InvalidJson);
    assert_eq!(e.line, 2);
    assert!(e.message.contains("byte order mark"), "{}", e.message);
    assert!(e.hint.unwrap().contains("concatenated"));
    // Classic Mac line endings: one line, and not a cut-short file.
    let (_, r) = read(b"{\"a\":1}\r{\"a\":2}\r", None, opts(1, 1 << 20));
    assert_eq!(r.lines_read, 1);
    let e = first_example(&r, Category::InvalidJson);
    assert!(e.message.contains("bare carriage return"), "{}", e.message);
    assert_eq!(count(&r, Category::TruncatedLine), 0);
}

#[test]
fn parquet_and_arrow_files_are_named_for_what_they_are() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, kind) in [
        (
            "x.parquet",
            b"PAR1\x00\x01\x02\x03\x04\x05\x06\x07PAR1".to_vec(),
            "a Parquet",
        ),
        (
            "x.arrow",
            b"ARROW1\x00\x00\x01\x02\x03\x04ARROW1".to_vec(),
            "an Arrow IPC",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let rd = Reader::new(vec![p.display().to_string()], None, None, opts(1, 64)).unwrap();
        match rd.read_all() {
            Err(_core::IngestError::Source { message, .. }) => {
                assert_eq!(message, format!("is {kind} file, not JSONL"))
            }
            other => panic!("{other:?}"),
        }
    }
    // Only the start looking like Parquet: a JSONL file with a bad first line, read as such.
    let p = dir.path().join("odd.jsonl");
    std::fs::write(&p, b"PAR1 not json\n{\"a\":1}\n").unwrap();
    let rd = Reader::new(vec![p.display().to_string()], None, None, opts(1, 64)).unwrap();
    let (_, r) = rd.read_all().unwrap();
    assert_eq!((r.rows_kept, count(&r, Category::InvalidJson)), (1, 1));
}
