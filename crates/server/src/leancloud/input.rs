//! Reading exported files: JSON Lines, a JSON array, `{"results":[…]}` pages (one or
//! several concatenated), each optionally gzipped, and directories of them. Every
//! object comes with the place it was read from, for error messages.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Where an object was read: a file, the line its value starts on, and its index
/// when it is an element of an array or a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub file: PathBuf,
    pub line: usize,
    pub element: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(i) = self.element {
            write!(f, " (element {i})")?;
        }
        Ok(())
    }
}

/// An input that cannot be read, with where.
#[derive(Debug)]
pub struct Unreadable {
    pub place: Place,
    pub reason: String,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.reason)
    }
}

/// File names an input directory contributes (other files are not inputs).
fn is_input(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name.strip_suffix(".gz").unwrap_or(name);
    !name.starts_with('.')
        && name != super::export::STATE_FILE
        && [".jsonl", ".json", ".ndjson"]
            .iter()
            .any(|ext| stem.ends_with(ext))
}

/// The LeanCloud class a file exports, when its name says it is one that is not
/// imported: console exports name files after their class (the part before the first
/// `.`), and built-in classes start with `_`.
fn other_class(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let class = name.split('.').next()?;
    (class.starts_with('_') && class != "_Conversation").then_some(class)
}

/// The input files of `paths`, and the files of other classes left out: files as
/// given (a file of another class is an error), directories walked in name order.
pub fn files(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let mut out = (Vec::new(), Vec::new());
    for path in paths {
        walk(path, true, &mut out)?;
    }
    Ok(out)
}

fn walk(path: &Path, given: bool, out: &mut (Vec<PathBuf>, Vec<PathBuf>)) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let mut entries = std::fs::read_dir(path)
            .and_then(|d| {
                d.map(|e| e.map(|e| e.path()))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        entries.sort();
        for entry in entries {
            walk(&entry, false, out)?;
        }
    } else if let Some(class) = other_class(path).filter(|_| given || is_input(path)) {
        if given {
            return Err(format!(
                "{}: a {class} export; only _Conversation rows and message history are imported",
                path.display()
            ));
        }
        out.1.push(path.to_owned());
    } else if given || is_input(path) {
        out.0.push(path.to_owned());
    }
    Ok(())
}

/// The line of byte `offset` in `text` (1-based).
fn line_at(text: &[u8], offset: usize) -> usize {
    1 + text[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The file's bytes, gunzipped when they are gzip.
fn contents(file: &Path) -> Result<Vec<u8>, String> {
    let raw = std::fs::read(file).map_err(|e| e.to_string())?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("not a readable gzip file: {e}"))?;
    if out.get(257..262) == Some(b"ustar") {
        return Err(
            "a tar archive: extract it first (tar xzf FILE) and import the directory".into(),
        );
    }
    Ok(out)
}

/// An object read from an input, with its place.
pub type Placed = (Place, Map<String, Value>);

/// Every object of `file`, in order, with its place.
pub fn objects(file: &Path) -> Result<Vec<Placed>, Unreadable> {
    let place = |line, element| Place {
        file: file.to_owned(),
        line,
        element,
    };
    let fail = |line, reason: String| Unreadable {
        place: place(line, None),
        reason,
    };
    let bytes = contents(file).map_err(|e| fail(1, e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        fail(
            line_at(&bytes, e.valid_up_to()),
            "not UTF-8 (LeanCloud exports are UTF-8; convert the file first)".into(),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    // Lines counted up to `counted`, so that each byte is counted once.
    let (mut counted, mut line) = (0, 1);
    loop {
        let start = stream.byte_offset();
        let skipped = text[start..].len() - text[start..].trim_start().len();
        line += line_at(&text.as_bytes()[counted..], start + skipped - counted) - 1;
        counted = start + skipped;
        let value = match stream.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                let reason = if e.is_eof() {
                    "truncated JSON (the file ends inside a value)".to_owned()
                } else {
                    e.to_string()
                };
                return Err(fail(e.line().max(line), reason));
            }
        };
        let elements = match value {
            Value::Array(items) => items,
            Value::Object(mut o) if is_page(&o) => match o.remove("results") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            Value::Object(o) => {
                out.push((place(line, None), o));
                continue;
            }
            other => {
                return Err(fail(
                    line,
                    format!("expected an object or an array, found {other}"),
                ))
            }
        };
        for (i, item) in elements.into_iter().enumerate() {
            match item {
                Value::Object(o) => out.push((place(line, Some(i)), o)),
                other => {
                    return Err(Unreadable {
                        place: place(line, Some(i)),
                        reason: format!("expected an object, found {other}"),
                    })
                }
            }
        }
    }
    Ok(out)
}

/// A query or scan reply (`results`, perhaps `cursor` or `count`), not a record.
fn is_page(o: &Map<String, Value>) -> bool {
    matches!(o.get("results"), Some(Value::Array(_)))
        && !o.contains_key("objectId")
        && !o.contains_key("msg-id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, bytes: &[u8]) -> Result<Vec<Placed>, Unreadable> {
        let dir = std::env::temp_dir().join(format!("leanrt-input-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join(name);
        std::fs::write(&file, bytes).expect("write");
        let out = objects(&file);
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    fn lines(r: &[Placed]) -> Vec<(usize, Option<usize>)> {
        r.iter().map(|(p, _)| (p.line, p.element)).collect()
    }

    #[test]
    fn every_shape_reads_as_objects() {
        let jsonl = read("a.jsonl", b"{\"a\":1}\n\n{\"a\":2}\n").expect("jsonl");
        assert_eq!(lines(&jsonl), [(1, None), (3, None)]);
        let array = read("a.json", b"\n[{\"a\":1},{\"a\":2}]").expect("array");
        assert_eq!(lines(&array), [(2, Some(0)), (2, Some(1))]);
        let pages = read("p.json", b"{\"results\":[{\"a\":1}],\"cursor\":\"x\"}\n{\"results\":[{\"a\":2}],\"cursor\":null}").expect("pages");
        assert_eq!(lines(&pages), [(1, Some(0)), (2, Some(0))]);
        let bom = read("b.jsonl", "\u{feff}{\"a\":1}".as_bytes()).expect("bom");
        assert_eq!(bom.len(), 1);
    }

    #[test]
    fn gzip_is_read_through() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"{\"a\":1}\n{\"a\":2}\n").expect("gzip");
        let out = read("a.jsonl.gz", &gz.finish().expect("gzip")).expect("gz");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn bad_files_name_the_line() {
        let e = read("t.jsonl", b"{\"a\":1}\n{\"a\":2}\n{\"a\":").expect_err("truncated");
        assert_eq!(e.place.line, 3);
        assert!(e.reason.contains("truncated"), "{}", e.reason);
        let e = read("u.jsonl", b"{\"a\":1}\n{\"a\":\"\xff\"}\n").expect_err("latin-1");
        assert_eq!(e.place.line, 2);
        assert!(e.reason.contains("UTF-8"));
        let e = read("n.jsonl", b"{\"a\":1}\n42\n").expect_err("number");
        assert_eq!(e.place.line, 2);
        let e = read("g.jsonl", b"{\"a\":1}\n{\"a\" 2}\n").expect_err("garbage");
        assert_eq!(e.place.line, 2);
    }

    #[test]
    fn files_of_other_classes_are_left_out() {
        let dir = std::env::temp_dir().join(format!("leanrt-files-{}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("messages")).expect("dir");
        for name in [
            "_Conversation.0.jsonl",
            "_User.0.jsonl",
            "_ConversationMemberInfo.jsonl.gz",
            "messages/000001.jsonl",
            "notes.txt",
            "export-state.json",
        ] {
            std::fs::write(dir.join(name), b"").expect("write");
        }
        let (inputs, others) = files(std::slice::from_ref(&dir)).expect("walk");
        let names = |v: &[PathBuf]| -> Vec<String> {
            v.iter()
                .map(|p| p.strip_prefix(&dir).expect("under").display().to_string())
                .collect()
        };
        assert_eq!(
            names(&inputs),
            ["_Conversation.0.jsonl", "messages/000001.jsonl"]
        );
        assert_eq!(
            names(&others),
            ["_ConversationMemberInfo.jsonl.gz", "_User.0.jsonl"]
        );
        let e = files(&[dir.join("_User.0.jsonl")]).expect_err("given");
        assert!(e.contains("a _User export"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
