//! SHA-256 of files and bytes, as the store and the keys name them.

use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::Digest;

/// How much of a file is read at a time while hashing.
const CHUNK: usize = 256 * 1024;

/// The digest of `bytes`.
pub(crate) fn bytes(bytes: &[u8]) -> Digest {
    hex(&Sha256::digest(bytes))
}

/// The digest of the file at `path` and how many bytes it had.
pub(crate) fn file(path: &Path) -> std::io::Result<(Digest, u64)> {
    let mut file = std::fs::File::open(path)?;
    reader(&mut file)
}

/// The digest of everything `reader` gives, and how many bytes that was.
pub(crate) fn reader(reader: &mut dyn Read) -> std::io::Result<(Digest, u64)> {
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        hash.update(&buffer[..read]);
        total += read as u64;
    }
    Ok((hex(&hash.finalize()), total))
}

/// `digest` as lowercase hexadecimal.
pub(crate) fn hex(digest: &[u8]) -> Digest {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(digest.len() * 2);
    for byte in digest {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// Whether `text` is a digest as [`hex`] writes one.
pub(crate) fn is_digest(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_bytes_and_files_agree() {
        let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(bytes(b""), empty);
        assert!(is_digest(empty));
        assert!(!is_digest(&empty.to_uppercase()));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content = vec![7u8; CHUNK * 2 + 3];
        std::fs::write(&path, &content).unwrap();
        assert_eq!(
            file(&path).unwrap(),
            (bytes(&content), content.len() as u64)
        );
    }
}
