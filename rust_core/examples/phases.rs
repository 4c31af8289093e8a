//! Where one core's time goes, phase by phase, on a JSONL file in the page cache:
//! `cargo run --release --example phases -- FILE FORMAT_SPEC_JSON [REPS]`.
//! Each phase adds one step to the one before; the best of REPS runs is printed.

use std::time::Instant;

use _core::mapping::{FormatSet, Mapped};
use _core::parse::{parse_row, Row, Want};
use _core::table::ChatBuilder;
use bumpalo::Bump;

// As in the extension (src/python/mod.rs): large freed blocks are reused, not unmapped.
#[global_allocator]
static ALLOC: _core::alloc::Recycler = _core::alloc::Recycler::new();

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).expect("read the file");
    let fs = FormatSet::from_json(&std::fs::read_to_string(&args[2]).expect("spec")).unwrap();
    let reps: usize = args.get(3).map_or(3, |r| r.parse().unwrap());
    let mb = data.len() as f64 / 1e6;
    let mut all: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', &data) {
        if end > start {
            all.push(&data[start..end]);
        }
        start = end + 1;
    }
    let lines = || all.iter().copied();
    let only = std::env::var("PHASE").ok();
    let time = |name: &str, f: &mut dyn FnMut() -> usize| {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            return;
        }
        let mut best = f64::MAX;
        let mut n = 0;
        for _ in 0..reps {
            let t = Instant::now();
            n = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{name:<32} {:>7.0} MB/s  {:>6.3} s/GB  ({n})",
            mb / best,
            best / mb * 1000.0
        );
    };
    time("memchr split", &mut || {
        memchr::memchr_iter(b'\n', &data).count()
    });
    time("utf8", &mut || {
        lines()
            .filter(|l| simdutf8::basic::from_utf8(l).is_ok())
            .count()
    });
    time("+serde IgnoredAny", &mut || {
        lines()
            .filter(|l| {
                let t = simdutf8::basic::from_utf8(l).unwrap();
                serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
            })
            .count()
    });
    let mut bump = Bump::with_capacity(64 << 10);
    time("+parse_row (all raw)", &mut || {
        let mut n = 0;
        for l in lines() {
            bump.reset();
            let t = simdutf8::basic::from_utf8(l).unwrap();
            n += parse_row(t, &|_| Want::Skip, &bump).is_ok() as usize;
        }
        n
    });
    let want = |k: &str| fs.want(k);
    time("+parse_row (format's want)", &mut || {
        let mut n = 0;
        for l in lines() {
            bump.reset();
            let t = simdutf8::basic::from_utf8(l).unwrap();
            n += parse_row(t, &want, &bump).is_ok() as usize;
        }
        n
    });
    time("+map_row", &mut || {
        let mut n = 0;
        for l in lines() {
            bump.reset();
            let t = simdutf8::basic::from_utf8(l).unwrap();
            if let Ok(Row::Object(mut f)) = parse_row(t, &want, &bump) {
                n += matches!(fs.map_row(&mut f, &bump), Mapped::Row { .. }) as usize;
            }
        }
        n
    });
    time("+ChatBuilder::push", &mut || {
        let mut n = 0;
        let mut b = ChatBuilder::with_capacity(8 << 20);
        let mut used = 0;
        for l in lines() {
            bump.reset();
            let t = simdutf8::basic::from_utf8(l).unwrap();
            if let Ok(Row::Object(mut f)) = parse_row(t, &want, &bump) {
                if let Mapped::Row {
                    format,
                    messages,
                    id,
                    tools,
                    metadata,
                } = fs.map_row(&mut f, &bump)
                {
                    b.push(
                        0,
                        format as i32,
                        &messages,
                        id.as_deref(),
                        tools.as_deref(),
                        metadata,
                    );
                    n += 1;
                }
            }
            used += l.len();
            if used > 8 << 20 {
                std::hint::black_box(b.finish("f", 1, fs.names()));
                b = ChatBuilder::with_capacity(8 << 20);
                used = 0;
            }
        }
        n
    });
}
