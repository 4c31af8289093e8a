//! Split bytes into lines at chunk boundaries: a UTF-8 BOM at the start of a file is stripped,
//! CRLF endings lose their CR, and line numbers are 1-based physical lines.

use memchr::memchr;

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// End of the chunk that starts at `start`: about `target` bytes, extended to just after the
/// next newline so that no line is split (or to the end of `data`).
pub fn chunk_end(data: &[u8], start: usize, target: usize) -> usize {
    let want = start.saturating_add(target.max(1));
    if want >= data.len() {
        return data.len();
    }
    // End with the line that holds byte `want - 1`.
    match memchr(b'\n', &data[want - 1..]) {
        Some(i) => want + i,
        None => data.len(),
    }
}

/// One physical line, without its terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    pub bytes: &'a [u8],
    /// 0-based index of the line within its chunk.
    pub index: u64,
    /// Whether a `\n` ended the line (false only for a file's last line).
    pub terminated: bool,
}

/// Iterate over the lines of a chunk. A chunk ending in `\n` has no empty line after it.
pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
    index: u64,
}

impl<'a> Lines<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Lines {
            data,
            pos: 0,
            index: 0,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let rest = &self.data[self.pos..];
        let (mut bytes, terminated, advance) = match memchr(b'\n', rest) {
            Some(i) => (&rest[..i], true, i + 1),
            None => (rest, false, rest.len()),
        };
        if let [head @ .., b'\r'] = bytes {
            bytes = head;
        }
        let line = Line {
            bytes,
            index: self.index,
            terminated,
        };
        self.pos += advance;
        self.index += 1;
        Some(line)
    }
}

/// Whether a line holds only JSON whitespace (space, tab, CR, LF).
#[inline]
pub fn is_blank(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(data: &[u8]) -> Vec<(String, bool)> {
        Lines::new(data)
            .map(|l| (String::from_utf8_lossy(l.bytes).into_owned(), l.terminated))
            .collect()
    }

    #[test]
    fn crlf_last_line_and_blank_lines() {
        assert_eq!(
            collect(b"a\r\nb\n\n  \nc"),
            vec![
                ("a".into(), true),
                ("b".into(), true),
                ("".into(), true),
                ("  ".into(), true),
                ("c".into(), false)
            ]
        );
        assert_eq!(collect(b"a\n"), vec![("a".into(), true)]);
        assert!(collect(b"").is_empty());
    }

    #[test]
    fn chunks_end_at_line_boundaries() {
        let data = b"aaaa\nbb\ncccccc\nd";
        let mut start = 0;
        let mut ends = vec![];
        while start < data.len() {
            let end = chunk_end(data, start, 3);
            ends.push(end);
            start = end;
        }
        assert_eq!(ends, vec![5, 8, 15, 16]);
    }
}
